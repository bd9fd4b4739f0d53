"""A batch card offers only the buttons its state can act on: each button's move is one
the store's state machine accepts from that state (an offered button that always answers
"already decided" is a broken card)."""

from __future__ import annotations

import pytest

from bot.store.batches import BATCH_TRANSITIONS, BatchState
from bot.usecases.batch.common import CONTROLS

#: the state each button moves a batch to (bot/usecases/batch/decide.py)
MOVES = {
    "approve": BatchState.APPROVED,
    "deny": BatchState.DENIED,
    "pause": BatchState.PAUSED,
    "resume": BatchState.RUNNING,
    "confirm": BatchState.RUNNING,
    "abort": BatchState.ABORTED,
}


@pytest.mark.parametrize("state", list(CONTROLS), ids=lambda s: s.value)
def test_every_offered_button_is_a_move_the_store_accepts(state: BatchState) -> None:
    for action in CONTROLS[state]:
        assert MOVES[action] in BATCH_TRANSITIONS[state], f"{action} from {state.value}"


def test_terminal_states_offer_nothing() -> None:
    for state, moves in BATCH_TRANSITIONS.items():
        if not moves:
            assert not CONTROLS.get(state)
