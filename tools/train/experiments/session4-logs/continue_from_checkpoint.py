import sys, os, math, time, torch, torch.nn.functional as F
sys.path.insert(0, "/work/main/tools/reference"); sys.path.insert(0, "/tmp/p20/ttn")
import train_tiny as tt, gpt2_reference
torch.set_num_threads(int(sys.argv[5]))
T=int(sys.argv[1]); B=int(sys.argv[2]); nmin=int(sys.argv[3]); nmax=int(sys.argv[4]); lr=3e-3
cfg = dict(n_layer=4,n_head=4,n_embd=128,n_positions=256,vocab_size=4096,layer_norm_epsilon=1e-5,activation_function="gelu_new",model_type="gpt2")
W0 = torch.load("/tmp/p20/ck_Z2.pt")
w = {n: torch.nn.Parameter(t.clone()) for n, t in W0.items()}
opt = torch.optim.AdamW(list(w.values()), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
gen = torch.Generator().manual_seed(5)
def tiled(T):
    u = float(torch.rand(1, generator=gen))
    n = int(round(math.exp(math.log(nmin) + (math.log(nmax) - math.log(nmin)) * u)))
    return torch.randint(256, 4095, (n,), generator=gen).repeat(T // n + 1)[:T]
t0=time.time()
for step in range(100000):
    x = torch.stack([tiled(T+1) for _ in range(B)])
    loss = F.cross_entropy(gpt2_reference.run(w, cfg, x[:, :-1]).reshape(-1, 4096), x[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0); opt.step()
    if step % 100 == 99:
        W={n:p.detach() for n,p in w.items()}
        r=[]
        for blk in (20, 50):
            hs = tt.head_scores(W, cfg, torch.Generator().manual_seed(3), 4095, n_seq=8, block=blk)
            r.append(f"b{blk} prev {max(h['previous_token'] for h in hs):.2f} ind {max(h['induction'] for h in hs):.2f}")
        print(step+1, round(loss.item(),3), " | ".join(r), f"{time.time()-t0:.0f}s", flush=True)
