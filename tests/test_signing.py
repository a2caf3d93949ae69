"""Signed desired states and actions: the signature, the key file, and the actuator's admission."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.actuator.admission import Admission
from services.actuator.lease import Lease
from shared.messages import Action, ContainerIntent, DesiredState, Reason
from shared.signing import Keyring, SigningError, load_keyring, new_key, sign, verify

KEY = Keyring(Path("k"), (new_key().encode(),))
OTHER = Keyring(Path("o"), (new_key().encode(),))
PAUSE = {"tdarr": ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="media_mode")])}


def desired(seq: int = 1) -> DesiredState:
    return DesiredState(host="h", seq=seq, lease_seconds=30, containers=PAUSE)


def restart() -> Action:
    return Action(host="h", kind="restart", container="tdarr", reasons=[Reason(rule="t")])


def test_a_signature_survives_the_wire_and_names_its_sender() -> None:
    signed = sign(desired(), KEY, "a1b2c3d4e5f60718", 5)
    received = DesiredState.model_validate_json(signed.model_dump_json())
    assert verify(received, KEY) is None
    assert received.signature is not None and received.signature.epoch == 5


@pytest.mark.parametrize(
    "tamper",
    [
        {"seq": 2},
        {"lease_seconds": 3600},
        {"host": "other"},
        {"containers": {}},
        {"media_mode": True},
    ],
)
def test_any_change_to_a_signed_desired_state_breaks_it(tamper: dict[str, object]) -> None:
    signed = sign(desired(), KEY, "a1b2c3d4e5f60718", 5)
    assert verify(signed.model_copy(update=tamper), KEY) == "bad signature"


def test_sender_and_epoch_are_covered_and_kinds_cannot_be_swapped() -> None:
    signed = sign(desired(), KEY, "a1b2c3d4e5f60718", 5)
    assert signed.signature is not None
    later = signed.signature.model_copy(update={"epoch": 6})
    assert verify(signed.model_copy(update={"signature": later}), KEY) == "bad signature"
    other = signed.signature.model_copy(update={"sender": "ffffffffffffffff"})
    assert verify(signed.model_copy(update={"signature": other}), KEY) == "bad signature"
    action = sign(restart(), KEY, "a1b2c3d4e5f60718", 5)
    assert verify(action, KEY) is None and verify(action, OTHER) == "bad signature"


def test_unsigned_and_foreign_keys_are_refused() -> None:
    assert verify(desired(), KEY) == "unsigned"
    assert verify(sign(desired(), OTHER, "a1b2c3d4e5f60718", 1), KEY) == "bad signature"


def test_rotation_every_key_verifies_the_first_signs(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    path = tmp_path / "signing.key"
    path.write_text(f"{new}\n{old}\n")
    os.chmod(path, 0o600)
    ring = load_keyring(path)
    assert not ring.loose_permissions
    by_old = sign(desired(), Keyring(path, (old.encode(),)), "a1b2c3d4e5f60718", 1)
    assert verify(by_old, ring) is None
    by_ring = sign(desired(), ring, "a1b2c3d4e5f60718", 1)
    assert verify(by_ring, Keyring(path, (new.encode(),))) is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "cannot read"), ("", "holds no key"), ("short\n", "at least 32 are needed")],
)
def test_bad_key_files_are_named_with_the_reason(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "signing.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SigningError, match=problem) as caught:
        load_keyring(path)
    assert str(path) in str(caught.value)


def test_a_world_readable_key_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text(new_key())
    os.chmod(path, 0o644)
    assert load_keyring(path).loose_permissions


def s(seq: int, epoch: int, ring: Keyring = KEY) -> DesiredState:
    return sign(desired(seq), ring, "a1b2c3d4e5f60718", epoch)


@pytest.mark.parametrize(
    ("sequence", "verdicts"),
    [
        # Renewals climb; a replay of any earlier one is refused.
        ([s(1, 10), s(2, 10), s(1, 10)], [None, None, "replayed"]),
        ([s(3, 10), s(3, 10)], [None, "replayed"]),
        # A new governor start (higher epoch) may begin its seq anywhere ...
        ([s(9, 10), s(1, 11)], [None, None]),
        # ... and the old start's messages are then out of date, whatever their seq.
        ([s(9, 10), s(1, 11), s(50, 10)], [None, None, "replayed"]),
        ([desired(1), s(1, 10, OTHER), s(1, 10)], ["unsigned", "bad signature", None]),
    ],
)
def test_admission_of_desired_states(
    sequence: list[DesiredState], verdicts: list[str | None]
) -> None:
    gate = Admission(KEY)
    got = [gate.desired(d) for d in sequence]
    for verdict, answer in zip(verdicts, got, strict=True):
        assert (answer is None) if verdict is None else (answer is not None and verdict in answer)


def test_admission_of_actions() -> None:
    gate = Admission(KEY)
    assert gate.desired(s(1, 10)) is None
    assert gate.action(sign(restart(), KEY, "a1b2c3d4e5f60718", 10)) is None
    assert "earlier governor start" in (gate.action(sign(restart(), KEY, "0123456789ab", 9)) or "")
    assert gate.action(restart()) == "unsigned"


def test_without_a_key_everything_well_formed_is_admitted() -> None:
    gate = Admission(None)
    assert gate.desired(desired(1)) is None and gate.desired(desired(1)) is None
    assert gate.action(restart()) is None


def test_each_newest_admitted_is_handed_on_to_be_kept_and_a_kept_one_guards() -> None:
    kept: list[tuple[int, int]] = []
    gate = Admission(KEY, remember=kept.append)
    assert gate.desired(s(1, 10)) is None and gate.desired(s(2, 10)) is None
    assert gate.desired(s(2, 10)) is not None  # refused: not handed on again
    assert kept == [(10, 1), (10, 2)]
    restarted = Admission(KEY, newest=kept[-1])
    assert "replayed" in (restarted.desired(s(1, 10)) or "")
    assert "earlier governor start" in (
        restarted.action(sign(restart(), KEY, "0123456789ab", 9)) or ""
    )


@pytest.mark.parametrize("lease", ["Infinity", "NaN", "-1", "0"])
def test_a_lease_that_never_ends_or_never_began_does_not_decode(lease: str) -> None:
    raw = desired(1).model_dump_json().replace('"lease_seconds":30.0', f'"lease_seconds":{lease}')
    assert f'"lease_seconds":{lease}' in raw
    with pytest.raises(ValueError, match="lease_seconds"):
        DesiredState.model_validate_json(raw)


@pytest.mark.parametrize(
    ("asked", "longest", "held"), [(30, 300, 30), (1e308, 300, 300), (300, 300, 300)]
)
def test_a_lease_is_held_for_the_shorter_of_what_it_asks_and_the_maximum(
    asked: float, longest: float, held: float
) -> None:
    lease = Lease(desired(1).model_copy(update={"lease_seconds": asked}), 100.0, longest)
    assert lease.seconds == held and lease.clamped == (asked > longest)
    assert not lease.expired(100.0 + held - 0.01) and lease.expired(100.0 + held)
