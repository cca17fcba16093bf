import sys, os, math, time, torch, torch.nn.functional as F
sys.path.insert(0, "/work/main/tools/reference"); sys.path.insert(0, "/tmp/p20/ttn")
import train_tiny as tt, gpt2_reference
torch.set_num_threads(1)
mix=float(sys.argv[6]); ck=sys.argv[7]; T=int(sys.argv[1]); B=int(sys.argv[2]); lr=float(sys.argv[3]); gmax=int(sys.argv[4]); bmax=int(sys.argv[5])
cfg = dict(n_layer=4,n_head=4,n_embd=128,n_positions=256,vocab_size=4096,layer_norm_epsilon=1e-5,activation_function="gelu_new",model_type="gpt2")
gen = torch.Generator().manual_seed(1)
w = tt.make_weights(cfg, gen)
if ck != "-":
    w = {n: torch.nn.Parameter(t.clone()) for n, t in torch.load(ck).items()}
def tiled(T):
    u = float(torch.rand(1, generator=gen)); n = int(round(math.exp(math.log(2) + (math.log(32) - math.log(2)) * u)))
    return torch.randint(256, 4095, (n,), generator=gen).repeat(T // n + 1)[:T]
opt = torch.optim.AdamW(list(w.values()), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
def row(T):
    # segments: block (4..bmax random tokens), filler (0..gmax random tokens), the block again
    out = []
    while len(out) < T:
        n = int(torch.randint(4, bmax + 1, (1,), generator=gen)); g = int(torch.randint(0, gmax + 1, (1,), generator=gen))
        b = torch.randint(256, 4095, (n,), generator=gen).tolist(); f = torch.randint(256, 4095, (g,), generator=gen).tolist()
        out += b + f + b
    return torch.tensor(out[:T])
t0=time.time()
for step in range(100000):
    x = torch.stack([tiled(T+1) if float(torch.rand(1, generator=gen)) < mix else row(T+1) for _ in range(B)])
    loss = F.cross_entropy(gpt2_reference.run(w, cfg, x[:, :-1]).reshape(-1, 4096), x[:, 1:].reshape(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(list(w.values()), 1.0); opt.step()
    if step % 100 == 99:
        W={n:p.detach() for n,p in w.items()}
        r=[]
        for blk in (20, 50):
            hs = tt.head_scores(W, cfg, torch.Generator().manual_seed(3), 4095, n_seq=8, block=blk)
            r.append(f"b{blk} prev {max(h['previous_token'] for h in hs):.2f} ind {max(h['induction'] for h in hs):.2f}")
        print(step+1, round(loss.item(),3), " | ".join(r), f"{time.time()-t0:.0f}s", flush=True)
