"""CDRIB loader on a tiny pair written by the test (the shared data set is not needed)."""

import pytest

from kg.errors import DataError
from loaders import get_loader


def write_pair(root, game_train=None, video_train=None):
    """C = 3: users 0..2 are common; game holds out user 2, video holds out user 1."""
    if game_train is None:
        game_train = "0\t0\n0\t1\n1\t1\n5\t2\n6\t0\n"
    if video_train is None:
        video_train = "0\t0\n2\t1\n5\t0\n7\t1\n"
    files = {
        "game_video/train.txt": game_train,
        "game_video/valid.txt": "2\t0\n",
        "game_video/test.txt": "2\t2\n",
        "video_game/train.txt": video_train,
        "video_game/valid.txt": "1\t0\n",
        "video_game/test.txt": "1\t1\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_users_below_c_are_shared_and_above_are_per_domain(tmp_path):
    ds = get_loader("cdrib")(write_pair(tmp_path))
    assert ds.info["common_users"] == 3
    inter = ds.tables.interactions
    scen = inter.groupby("user_id")["scenario"].agg(lambda s: set(s))
    # raw id 5 exists in both files but is two different people
    assert scen["game:u5"] == {"game"} and scen["video:u5"] == {"video"}
    assert "u5" not in scen
    # ids below C are one person in both domains
    assert scen["u0"] == {"game", "video"} and scen["u2"] == {"game", "video"}
    bridging = {u for u, s in scen.items() if len(s) > 1}
    assert bridging == {"u0", "u1", "u2"}
    assert set(ds.split_names) == {"train", "valid", "test"}
    assert len(ds.split("test")) == 2


def test_loader_does_not_hard_code_the_pair(tmp_path):
    write_pair(tmp_path / "sets")
    (tmp_path / "sets" / "game_video").rename(tmp_path / "sets" / "sport_cloth")
    (tmp_path / "sets" / "video_game").rename(tmp_path / "sets" / "cloth_sport")
    ds = get_loader("cdrib")(tmp_path / "sets")
    assert sorted(ds.tables.scenarios["scenario"]) == ["cloth", "sport"]


@pytest.mark.parametrize("train, rule", [
    ("0\t0\n0\tx\n", "item id must be an integer"),
    ("0\t0\n0\t0\n", "duplicate user-item pair"),
    ("0\t0\t7\n", "expected 2 fields"),
    ("", "file is empty"),
    ("2\t3\n", "must be cold-start"),
])
def test_bad_lines_name_file_and_line(tmp_path, train, rule):
    write_pair(tmp_path, game_train=train)
    with pytest.raises(DataError, match=rule) as info:
        get_loader("cdrib")(tmp_path)
    assert "game_video/" in str(info.value) and ".txt:" in str(info.value)


def test_wrong_encoding_is_reported(tmp_path):
    write_pair(tmp_path)
    (tmp_path / "video_game" / "train.txt").write_bytes(b"0\t0\n1\t\xff\xfe\n")
    with pytest.raises(DataError, match=r"train.txt:2: bytes are not valid utf-8"):
        get_loader("cdrib")(tmp_path)


def test_a_held_out_id_unknown_in_the_other_domain_is_refused(tmp_path):
    """One bad valid line must not move C (and so who counts as a shared user)."""
    root = write_pair(tmp_path)
    (root / "video_game/valid.txt").write_text("1\t0\n1000000000000\t1\n")
    with pytest.raises(DataError, match=r"video_game/valid.txt:2: user 1000000000000 of "
                                        r"valid.txt has no training interaction in game"):
        get_loader("cdrib")(root)


@pytest.mark.parametrize("where", ["game_video/train.txt", "video_game/test.txt"])
def test_negative_ids_are_refused(tmp_path, where):
    root = write_pair(tmp_path)
    path = root / where
    path.write_text(path.read_text() + "-5\t0\n")
    with pytest.raises(DataError, match=r"user id must be a non-negative integer, got '-5'"):
        get_loader("cdrib")(root)
