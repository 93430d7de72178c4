"""Kernel adapters: the only code that changes the kernel or starts processes."""
