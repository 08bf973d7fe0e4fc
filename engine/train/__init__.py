"""Single-GPU supervised fine-tuning (transformers + peft) on an exported SFT dataset.

Light modules (config, data, axolotl, launch, device) import no torch, so the CLI can validate
input fast; masking/trainer/worker import the heavy stack.
"""
