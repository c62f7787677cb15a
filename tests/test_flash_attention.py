"""The paper recipe's `flash_attn: fa2` path, on CPU: transformers' own FlashAttention-2 wrapper around a plain
PyTorch attention, so a broken wrapper shows up without a GPU.

transformers 5.6.0's wrapper calls `s_aux.to(query.dtype)` with `s_aux=None` on every model without attention
sinks, Llama 3 included (transformers #45588, LLaMA-Factory #10610); these tests fail there. Only the function
that calls flash-attn's kernel is replaced, nothing above it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.integrations import flash_attention


def sdpa_in_flash_layout(query, key, value, attention_mask, query_length, is_causal, dropout=0.0,
                         softmax_scale=None, **kwargs):  # fmt: skip
    """Stands in for `_flash_attention_forward` (flash-attn's kernel): (batch, seq, heads, dim) in and out."""
    assert attention_mask is None or bool(attention_mask.all()), "the tests use unpadded batches"
    q, k, v = (t.transpose(1, 2) for t in (query, key, value))
    out = F.scaled_dot_product_attention(
        q, k, v, dropout_p=dropout, is_causal=is_causal, scale=softmax_scale, enable_gqa=True
    )
    return out.transpose(1, 2)


@pytest.fixture
def kernel_in_pytorch(monkeypatch):
    monkeypatch.setattr(flash_attention, "_flash_attention_forward", sdpa_in_flash_layout)


@pytest.fixture(scope="module")
def llama():
    """A 2-layer Llama (grouped-query attention, as Llama 3) with random weights."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, attn_implementation="sdpa",
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def test_wrapper_runs_without_attention_sinks(kernel_in_pytorch, llama):
    module = llama.model.layers[0].self_attn
    assert not hasattr(module, "sinks")  # Llama has no attention sinks: nothing passes s_aux
    batch, heads, kv_heads, seq, dim = 2, 4, 2, 7, 16
    query = torch.randn(batch, heads, seq, dim, dtype=torch.float16)
    key, value = (torch.randn(batch, kv_heads, seq, dim, dtype=torch.float16) for _ in range(2))
    out, weights = flash_attention.flash_attention_forward(
        module, query, key, value, attention_mask=None, dropout=0.0, scaling=dim**-0.5
    )
    assert out.shape == (batch, seq, heads, dim) and weights is None
    expected = sdpa_in_flash_layout(*(t.transpose(1, 2) for t in (query, key, value)), None, seq, True)
    torch.testing.assert_close(out, expected)


def test_llama_forward_through_the_fa2_wrapper_matches_sdpa(kernel_in_pytorch, llama):
    ids = torch.randint(0, 128, (2, 9))
    with torch.no_grad():
        reference = llama(ids).logits
        llama.config._attn_implementation = "flash_attention_2"  # what `flash_attn: fa2` selects
        try:
            logits = llama(ids).logits
        finally:
            llama.config._attn_implementation = "sdpa"
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-4)
