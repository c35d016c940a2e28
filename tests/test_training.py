import pytest
import torch
from torch import nn

from llm4rec_utils.training import Checkpointer, adam


def test_checkpointer_keeps_the_best_state_and_stops_on_patience():
    model = nn.Linear(1, 1, bias=False)
    scores = iter([0.1, 0.5, 0.4, 0.3])

    def eval_fn(m):
        return next(scores)

    ckpt = Checkpointer(eval_fn, every=1, last_epoch=10, patience=2)
    stops = []
    for epoch in range(1, 5):
        with torch.no_grad():
            model.weight.fill_(epoch)
        stops.append(ckpt.step(model, epoch))
    assert stops == [False, False, False, True]
    hist = ckpt.finish(model)
    assert hist["best_epoch"] == 2 and hist["best"] == 0.5 and model.weight.item() == 2.0
    assert not model.training


def test_checkpointer_without_eval_and_bad_interval():
    ckpt = Checkpointer(None, every=5, last_epoch=7)
    assert not ckpt.step(nn.Linear(1, 1), 5)
    assert ckpt.finish(nn.Linear(1, 1))["best_epoch"] == 7
    with pytest.raises(ValueError, match="positive"):
        Checkpointer(None, every=0, last_epoch=1)


def test_linear_warmup_ramps_then_holds():
    from llm4rec_utils.training import linear_warmup

    opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    assert linear_warmup(opt, 0) is None
    sched = linear_warmup(opt, 4)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_linear_warmup_with_cosine_decay_ends_at_zero():
    from llm4rec_utils.training import linear_warmup

    opt = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    sched = linear_warmup(opt, 2, total_steps=6)
    lrs = []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.8535534, 0.5, 0.1464466, 0.0])
    only_decay = linear_warmup(torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0), 0, 4)
    assert only_decay is not None


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_is_fused_and_matches_the_per_tensor_update(decoupled):
    torch.manual_seed(0)
    a = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    b = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    b.load_state_dict(a.state_dict())
    a[0].bias.requires_grad_(False)  # frozen parameters are left out
    b[0].bias.requires_grad_(False)
    fused = adam(a.parameters(), 1e-2, weight_decay=0.1, decoupled=decoupled)
    assert fused.defaults["fused"] and len(fused.param_groups[0]["params"]) == 3
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    plain = cls([p for p in b.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    for _ in range(5):
        for model, opt in [(a, fused), (b, plain)]:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


class _FakeParam:
    """What adam's fused check reads of a parameter, on any device type."""

    def __init__(self, device: str):
        self.device, self.is_sparse, self.requires_grad = torch.device(device), False, True

    def is_floating_point(self):
        return True


@pytest.mark.parametrize("mps_available", [True, False])
def test_the_fused_kernel_is_only_asked_for_on_cpu_and_cuda(monkeypatch, mps_available):
    from llm4rec_utils.training import can_fuse

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps_available)
    assert can_fuse([_FakeParam("cpu")]) and can_fuse([_FakeParam("cuda")])
    assert not can_fuse([_FakeParam("mps")])  # torch's default Adam there, never an error
    assert not can_fuse([_FakeParam("cpu"), _FakeParam("mps")]) and not can_fuse([])
    meta = torch.nn.Linear(2, 2, device="meta")
    opt = adam(meta.parameters(), 1e-3)
    assert not opt.defaults["fused"]
