"""Weighted kNN top-1 of frozen features."""
import torch
from torch import nn


def knn_top1(train: torch.Tensor, train_labels: torch.Tensor, query: torch.Tensor,
             query_labels: torch.Tensor, k: int = 20,
             temperature: float = 0.07) -> float:
    """Top-1 (%) of a cosine-similarity kNN with exp(sim / T) weighted votes
    (Wu et al. 2018, as DINO's kNN probe).

    Args:
        train (Tensor): Memory bank features, (N, C).
        train_labels (Tensor): Their class indices, (N,).
        query (Tensor): Query features, (M, C).
        query_labels (Tensor): Their class indices, (M,).
        k (int): Neighbours that vote. Defaults to 20.
        temperature (float): A neighbour's vote is exp(sim / temperature).
            Defaults to 0.07.
    """
    train = nn.functional.normalize(train, dim=1)
    query = nn.functional.normalize(query, dim=1)
    num_classes = int(train_labels.max()) + 1
    correct = 0
    for start in range(0, len(query), 1024):
        sim = query[start:start + 1024] @ train.T
        top, idx = sim.topk(min(k, len(train)), dim=1)
        votes = torch.zeros(len(top), num_classes).scatter_add_(
            1, train_labels[idx], (top / temperature).exp())
        correct += (votes.argmax(1) == query_labels[start:start + 1024]).sum().item()
    return 100. * correct / len(query)
