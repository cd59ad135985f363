/// safetensors
