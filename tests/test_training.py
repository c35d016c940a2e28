import pytest
import torch
from torch import nn

from llm4rec_utils.training import Checkpointer


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
