from .device_check_hook import DeviceCheckHook
from .final_metrics_hook import FinalMetricsHook
from .label_space_hook import LabelSpaceHook
from .online_probe_hook import OnlineProbeHook
from .random_state_hook import RandomStateHook
from .task_gradient_hook import TaskGradientHook

__all__ = ['DeviceCheckHook', 'FinalMetricsHook', 'LabelSpaceHook', 'OnlineProbeHook',
           'RandomStateHook', 'TaskGradientHook']
