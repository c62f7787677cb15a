"""emotion-sft: instruction-tune LLMs with LoRA (LLaMA-Factory) to classify the emotion of English text."""

__version__ = "0.1.0"
