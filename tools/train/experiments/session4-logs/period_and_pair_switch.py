import sys, os, math, time, torch, torch.nn.functional as F
sys.path.insert(0, "/work/main/tools/reference"); sys.path.insert(0, "/tmp/p20/ttn")
import train_tiny as tt, gpt2_reference
torch.set_num_threads(1)
# T B lr pool_start hold_steps ramp_steps maxn
sw=int(sys.argv[9]); nmin2=int(sys.argv[10]); pst=int(sys.argv[11]); T=int(sys.argv[1]); B=int(sys.argv[2]); lr=float(sys.argv[3]); p0=int(sys.argv[4]); hold=int(sys.argv[5]); ramp=int(sys.argv[6]); maxn=int(sys.argv[7])
full=3839
cfg = dict(n_layer=4,n_head=4,n_embd=128,n_positions=256,vocab_size=4096,layer_norm_epsilon=1e-5,activation_function="gelu_new",model_type="gpt2")
gen = torch.Generator().manual_seed(1)
w = tt.make_weights(cfg, gen)
opt = torch.optim.AdamW(list(w.values()), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
STEP=[0]
def tiled(gen, T, hi):
    lo = 2 if STEP[0] < sw else nmin2
    n = int(round(math.exp(math.log(lo) + (math.log(maxn) - math.log(lo)) * float(torch.rand(1, generator=gen)))))
    return torch.randint(256, hi, (n,), generator=gen).repeat(T // n + 1)[:T]
t0=time.time()
for step in range(100000):
    pool = p0 + int((full - p0) * min(1.0, max(0, step - hold) / max(1, ramp)))
    hi = 256 + pool
    STEP[0] = step
    x = torch.stack([tt.pair_row(gen, T+1, hi) if step < pst else tiled(gen, T+1, hi) for _ in range(B)])
    loss = F.cross_entropy(gpt2_reference.run(w, cfg, x[:, :-1]).reshape(-1, 4096), x[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0); opt.step()
    if step % 200 == 199:
        W={n:p.detach() for n,p in w.items()}
        r=[]
        for h2, blk in ((256+full, 20), (256+full, 50)):
            hs = tt.head_scores(W, cfg, torch.Generator().manual_seed(3), h2, n_seq=8, block=blk)
            r.append(f"pool{h2-256} prev {max(h['previous_token'] for h in hs):.2f} ind {max(h['induction'] for h in hs):.2f}")
        print(step+1, round(loss.item(),3), " | ".join(r), f"{time.time()-t0:.0f}s", flush=True)
        if step % 1000 == 999: torch.save(W, f"/tmp/p20/ck_{sys.argv[8]}.pt")
