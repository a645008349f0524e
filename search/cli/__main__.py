"""``python -m flipforge.search.cli``: the flipforge command (a campaign starts its searches this way)."""

from .main import main

main()
