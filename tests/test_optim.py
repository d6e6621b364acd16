import torch

from grokscope.training.optim import MemberAdamW, warmup_scale


def test_member_adamw_equals_torch_adamw_per_member():
    """Three members with different lr and wd follow torch.optim.AdamW run on each alone (10 steps, warm-up)."""
    g = torch.Generator().manual_seed(0)
    lrs, wds = [1e-3, 3e-3, 1e-2], [1.0, 0.0, 0.3]
    weights = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    targets = torch.randn(3, 5, 4, generator=g, dtype=torch.float64)
    ours = weights.clone().requires_grad_(True)
    optimizer = MemberAdamW({"w": ours}, lr=torch.tensor(lrs, dtype=torch.float64),
                            wd=torch.tensor(wds, dtype=torch.float64), betas=(0.9, 0.98))
    refs = [weights[e].clone().requires_grad_(True) for e in range(3)]
    torch_opts = [torch.optim.AdamW([refs[e]], lr=lrs[e], weight_decay=wds[e], betas=(0.9, 0.98)) for e in range(3)]
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(s / 4, 1)) for o in torch_opts]
    for step in range(10):
        ((ours - targets) ** 3).sum().backward()
        optimizer.step(warmup_scale(step, 4))
        ours.grad = None
        for e in range(3):
            ((refs[e] - targets[e]) ** 3).sum().backward()
            torch_opts[e].step()
            torch_opts[e].zero_grad()
            schedulers[e].step()
    for e in range(3):
        torch.testing.assert_close(ours[e], refs[e], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(ours[0], weights[0])


def test_frozen_member_does_not_move():
    w = torch.ones(2, 3, requires_grad=True)
    optimizer = MemberAdamW({"w": w}, lr=torch.tensor([0.1, 0.1]), wd=torch.tensor([0.0, 0.0]))
    w.sum().backward()
    optimizer.step(1.0, active=torch.tensor([True, False]))
    assert (w[1] == 1).all() and (w[0] < 1).all()


def test_warmup_starts_at_zero():
    assert [warmup_scale(s, 10) for s in (0, 5, 10, 50)] == [0.0, 0.5, 1.0, 1.0]
    assert warmup_scale(0, 0) == 1.0
