from .task_gradient_hook import TaskGradientHook

__all__ = ['TaskGradientHook']
