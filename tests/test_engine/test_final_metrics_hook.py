"""FinalMetricsHook: the final weights' val metrics, validated once."""
import json

from mmengine.config import ConfigDict

from mmhybrid.engine.hooks import FinalMetricsHook

CFG = ConfigDict(val_dataloader=dict(x=1), val_evaluator=dict(x=1),
                 test_dataloader=dict(x=1), test_evaluator=dict(x=1))


class FakeRunner:
    """Counts validations; its metrics say which weights (iteration) they saw."""

    rank = 0

    def __init__(self):
        self.iter, self.validations = 0, 0

    def val(self):
        self.validations += 1
        return {'mIoU': float(self.iter), 'note': 'not a number'}

    def test(self):
        return {'mIoU': 100. + self.iter}


def test_the_loop_s_last_validation_is_reused_for_the_final_weights(tmp_path):
    out = tmp_path / 'final.json'
    hook, runner = FinalMetricsHook(str(out)), FakeRunner()
    runner.iter = 1000
    hook.after_val_epoch(runner, runner.val())  # the loop validates at max_iters
    metrics = hook.write(runner, CFG)
    assert runner.validations == 1
    assert metrics == {'val': {'mIoU': 1000.}, 'test': {'mIoU': 1100.}}
    assert json.loads(out.read_text()) == metrics


def test_weights_trained_after_the_last_validation_are_validated(tmp_path):
    hook, runner = FinalMetricsHook(str(tmp_path / 'final.json')), FakeRunner()
    runner.iter = 800
    hook.after_val_epoch(runner, runner.val())
    runner.iter = 1000  # training went on without validating
    metrics = hook.write(runner, CFG)
    assert runner.validations == 2 and metrics['val'] == {'mIoU': 1000.}


def test_a_config_without_validation_gets_test_metrics_only(tmp_path):
    hook, runner = FinalMetricsHook(str(tmp_path / 'final.json')), FakeRunner()
    cfg = ConfigDict(CFG, val_dataloader=None)
    assert hook.write(runner, cfg) == {'test': {'mIoU': 100.}}
    assert runner.validations == 0
