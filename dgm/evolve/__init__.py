"""One agent's step in the loop: evaluate it on a task in a sandbox (`evaluate`), diagnose
and self-modify it into a child (`improve`), check the child still works (`validate`), all
put together by the `Workbench`; `diffs` renders what changed."""
