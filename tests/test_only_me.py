"""Only me: the main person stays, everyone else becomes background, and the choice holds."""

import cv2
import numpy as np
import pytest

from segcam.effects.only_me import OnlyMe

H, W = 360, 640


def person(cx: float, scale: float = 1.0, cy: float = H * 0.45) -> np.ndarray:
    """Head and shoulders at (cx, cy) as float32 alpha with a soft edge."""
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, (int(cx), int(cy)), (int(40 * scale), int(52 * scale)), 0, 0, 360, 255, -1)
    cv2.ellipse(mask, (int(cx), int(cy + 200 * scale)), (int(110 * scale), int(150 * scale)), 0, 0, 360, 255, -1)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 2.0)


def core(region: np.ndarray, away_from: np.ndarray | None = None, margin: int = 15) -> np.ndarray:
    """Pixels surely inside `region` and at least `margin` pixels from `away_from`."""
    kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    inside = cv2.erode((region > 0.5).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    if away_from is not None:
        inside &= cv2.dilate((away_from > 0.5).astype(np.uint8), kernel) == 0
    return inside


def kept(out: np.ndarray, alpha: np.ndarray, region: np.ndarray) -> float:
    """The least share of the input alpha left over `region`."""
    return float((out[region] / np.maximum(alpha[region], 1e-6)).min())


def test_the_large_central_person_is_kept_and_the_other_removed():
    main, other = person(W * 0.5), person(W * 0.85, 0.6)
    alpha = np.maximum(main, other)
    out = OnlyMe()(alpha)
    assert kept(out, alpha, core(main)) > 0.99
    assert out[core(other)].max() < 0.01
    assert out[other > 0.01].max() < 0.05  # its soft edge goes too


def test_of_two_alike_the_one_nearer_the_centre_is_kept():
    left, right = person(W * 0.2), person(W * 0.6)
    alpha = np.maximum(left, right)
    out = OnlyMe()(alpha)
    assert kept(out, alpha, core(right)) > 0.99 and out[core(left)].max() < 0.01


def test_alone_in_view_the_alpha_is_untouched():
    alpha = person(W * 0.5)
    assert OnlyMe()(alpha) is alpha


def test_someone_who_walks_into_view_is_background_from_their_first_frame():
    main = person(W * 0.4)
    for x in (0.95, 0.72):  # far off, and right beside them (within a frame's reach of the main person)
        only_me = OnlyMe()
        for _ in range(3):
            assert only_me(main) is main
        newcomer = person(W * x, 0.7)
        assert not np.any((main > 0.5) & (newcomer > 0.5))
        alpha = np.maximum(main, newcomer)
        out = only_me(alpha)
        assert out[core(newcomer)].max() < 0.01 and kept(out, alpha, core(main)) > 0.99


def test_a_hand_back_in_view_beside_the_main_person_stays():
    only_me = OnlyMe()
    main, other = person(W * 0.35), person(W * 0.9, 0.6)
    only_me(np.maximum(main, other))
    hand = np.zeros((H, W), np.float32)
    cv2.circle(hand, (int(W * 0.35) + 60, 195), 18, 1.0, -1)  # beside the head, not touching
    alpha = np.maximum(np.maximum(main, other), hand)
    out = only_me(alpha)
    assert kept(out, alpha, core(hand)) > 0.99 and out[core(other)].max() < 0.01


def test_the_choice_holds_while_a_larger_person_comes_closer_touches_and_leaves():
    only_me = OnlyMe()
    xs_main = np.linspace(W * 0.3, W * 0.38, 50)
    # the second person is larger and comes nearer the centre: chosen afresh, they would win
    xs_other = np.concatenate([np.linspace(W * 1.0, W * 0.6, 20), np.full(10, W * 0.6),
                               np.linspace(W * 0.6, W * 0.95, 20)])
    phases = {"apart": 0, "touching": 0, "parted": 0}
    for x_main, x_other in zip(xs_main, xs_other):
        main, other = person(x_main), person(x_other, 1.15, cy=H * 0.4)
        alpha = np.maximum(main, other)
        out = only_me(alpha)
        near = cv2.dilate((main > 0.5).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
        if np.any(near & (other > 0.5)):  # touching, or less than the working resolution apart
            phase, margin = "touching", 60  # who is who inside the merged region is a guess
        else:
            phase, margin = ("parted" if phases["touching"] else "apart"), 3
        phases[phase] += 1
        assert kept(out, alpha, core(main, away_from=other, margin=margin)) > 0.95
        far = core(other, away_from=main, margin=margin)
        if far.any():
            assert out[far].max() < 0.05
        if phase == "parted":  # each whole again
            assert out[other > 0.05].max() < 0.05
    assert min(phases.values()) >= 5  # the test did make them touch, and part


def test_a_new_main_person_is_chosen_once_the_first_has_been_gone_a_while():
    only_me = OnlyMe(patience=5)
    main, other = person(W * 0.5), person(W * 0.85, 0.6)
    only_me(np.maximum(main, other))
    for _ in range(5):  # the main person stepped away: the other stays background meanwhile
        assert only_me(other.copy())[core(other)].max() < 0.01
    assert kept(only_me(other.copy()), other, core(other)) > 0.99


def test_a_mask_in_pieces_on_the_first_frame_joins_into_one_person():
    only_me = OnlyMe()
    whole = person(W * 0.5)
    pieces = whole.copy()
    pieces[int(H * 0.45) + 48: int(H * 0.45) + 60] = 0  # the neck missing: head and body apart
    only_me(pieces)  # the body is chosen; the head looks like someone else
    head = core(whole) & (np.indices((H, W))[0] < H * 0.45)
    assert kept(only_me(whole), whole, head) > 0.99  # never seen apart for long: a piece of the same person


def test_two_people_in_one_region_for_long_become_one():
    only_me = OnlyMe(merge_frames=10)
    main, other = person(W * 0.35), person(W * 0.75, 0.8)
    for _ in range(10):
        only_me(np.maximum(main, other))
    for x in np.linspace(W * 0.75, W * 0.62, 8)[1:]:  # they come to lean on the main person ...
        only_me(np.maximum(main, person(x, 0.8)))
    leaning = person(W * 0.6, 0.8)  # ... and stay
    alpha = np.maximum(main, leaning)
    outs = [only_me(alpha) for _ in range(12)]
    far = core(leaning, away_from=main, margin=40)
    assert outs[0][far].max() < 0.05  # told apart at first
    assert kept(outs[-1], alpha, far) > 0.99  # one region for longer than merge_frames: shown


def test_reset_chooses_again():
    only_me = OnlyMe()
    left, right = person(W * 0.3), person(W * 0.85, 0.6)
    only_me(np.maximum(left, right))
    moved = np.maximum(person(W * 0.15, 0.6), person(W * 0.5))  # the small one now right in the middle
    only_me.reset()
    assert kept(only_me(moved), moved, core(person(W * 0.5))) > 0.99


@pytest.mark.parametrize("model", ["mediapipe-landscape", "rvm"])
def test_with_a_real_network_the_second_person_becomes_background(model, rvm_installed, shared_dir):
    from segcam.segmenter import Segmenter
    from segcam.train.datasets import _paste

    room = cv2.imread(str(shared_dir / "data" / "backgrounds" / "images" / "bgmatting_plate_0001.png"))
    image = cv2.resize(room, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32)
    cutouts = shared_dir / "data" / "cutouts" / "rgba"
    main_truth, other_truth = np.zeros((H, W), np.float32), np.zeros((H, W), np.float32)
    # someone further back, to the side (one that both networks see: most small full-body
    # cut-outs on that room are missed by MediaPipe, which is trained on selfies)
    other = cv2.resize(cv2.imread(str(cutouts / "1_14.png"), cv2.IMREAD_UNCHANGED), None, fx=1.2, fy=1.2)
    _paste(image, other_truth, other, 40, int(W * 0.75))
    main = cv2.resize(cv2.imread(str(cutouts / "1_10.png"), cv2.IMREAD_UNCHANGED), None, fx=1.5, fy=1.5)
    _paste(image, main_truth, main, 30, W // 2 - main.shape[1] // 2)
    other_truth = np.where(main_truth > 0.5, 0, other_truth)  # the part not hidden behind the main person
    frame = np.clip(image, 0, 255).astype(np.uint8)

    segmenter = Segmenter(model, "cpu", frame_size=(W, H))
    for _ in range(3):  # a recurrent network settles over a few frames of the same scene
        alpha = segmenter.segment(frame)
    assert alpha[core(other_truth, margin=3)].mean() > 0.5  # the network does see the second person
    out = OnlyMe()(alpha)
    assert out[core(other_truth, away_from=main_truth, margin=5)].max() < 0.05
    main_core = core(main_truth)
    assert np.abs(out[main_core] - alpha[main_core]).max() < 0.01
