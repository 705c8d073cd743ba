"""Developer tools that read the project's ../shared data: run from a checkout, never installed.

    python -m tools.screenshots assets/screenshots    # the README's screenshots
    python -m tools.overhead --source CLIP.mp4        # what the window costs over headless
    python -m tools.scene_cuts                        # the scene-cut statistic on cuts and on fast motion
    python tools/gpu_check.py                         # the GPU path on a machine with CUDA: one table
"""
