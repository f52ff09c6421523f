"""One helper per concept (issue 14): 04 and the model check read "offline" and "a path" alike."""

from __future__ import annotations

import pytest
from cinesub import asr, modelcheck, models


def test_asr_and_model_check_share_one_path_rule():
    assert asr.looks_like_path is modelcheck.looks_like_path is models.looks_like_path
    assert [
        modelcheck.looks_like_path(n) for n in ("large-v3", "Systran/faster-whisper-tiny", "./m", "a/b/c")
    ] == [
        False,
        False,
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("value", "offline"),
    [("", False), ("0", False), ("false", False), ("1", True), ("true", True), ("ON", True)],
)
def test_offline_means_the_same_everywhere(monkeypatch, value, offline):
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert asr.is_offline() is models.is_offline() is offline


def test_asr_model_lookup_obeys_the_shared_offline_rule(monkeypatch, tmp_path):
    # HF_HUB_OFFLINE=false used to count as offline in 04 and online in the model fetcher
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(asr.CinesubError, match="HF_HUB_OFFLINE is set"):
        asr.resolve_model("no-such-model-xyz", str(tmp_path))
