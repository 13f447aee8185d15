"""The rehearsal's terminal UI (Textual), replacing the seed's `input()` prompts (segD §6.4).

Thin on purpose: it walks the same `walk()` events the scripted mode scores, collects the trainee's name,
the chosen actions for every anomaly (several may be chosen: the seed allowed one free-text word) and the quiz
answers, and exits with a `Responses`; scoring, logs and the certificate happen outside it, exactly as for
`--answers FILE`. Tested headlessly with Textual's own harness (`App.run_test`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Footer, Header, Input, Label, OptionList, SelectionList, Static

from lumen_assets.ceremony.engine import Responses, walk
from lumen_assets.ceremony.settings import CeremonyConfig


@dataclass(frozen=True)
class Prompt:
    """One screenful: `kind` is name | scenario | step | actions | choice | text."""

    kind: str
    key: str
    text: str
    options: tuple[tuple[str, str], ...] = ()  # (value, label)


def prompts_for(config: CeremonyConfig, scenario_id: str | None, trainee: str | None) -> list[Prompt]:
    """Everything the UI asks, in order; the scenario's steps and anomalies come after it is chosen."""
    out = []
    if not trainee:
        out.append(Prompt("name", "trainee", "Trainee name"))
    if not scenario_id:
        out.append(Prompt("scenario", "scenario", "Choose a scenario",
                          tuple((s.id, f"{s.id} — {s.title}") for s in config.scenarios)))
    return out


def scenario_prompts(config: CeremonyConfig, scenario_id: str) -> list[Prompt]:
    scenario = config.scenario(scenario_id)
    out = []
    for event in walk(scenario, config):
        if event.anomaly is None:
            out.append(Prompt("step", event.step, f"[{event.step}] {event.text}"))
        else:
            anomaly = next(a for a in scenario.anomalies if a.id == event.anomaly)
            out.append(Prompt("actions", anomaly.id, f"ANOMALY at {event.step}: {anomaly.message}\nChoose your actions.",
                              tuple((a, f"{a} — {text}") for a, text in config.actions.items())))
    for question in config.quiz.multiple_choice:
        out.append(Prompt("choice", question.id, question.q, tuple((str(i), c) for i, c in enumerate(question.choices))))
    for question in config.quiz.short_answer:
        out.append(Prompt("text", question.id, question.q))
    return out


class CeremonyApp(App[Responses | None]):
    """Walks the prompts one at a time; `app.return_value` is the trainee's Responses (None if quit)."""

    TITLE = "Lumen ceremony rehearsal"
    BINDINGS = [Binding("ctrl+q", "quit_rehearsal", "Quit without scoring")]
    CSS = """
    #prompt { padding: 1 2; }
    #log { height: 8; border: round $accent; padding: 0 1; }
    #answer, #options, #actions { margin: 0 2; }
    """

    def __init__(self, config: CeremonyConfig, scenario: str | None = None, trainee: str | None = None) -> None:
        super().__init__()
        self.config = config
        self.responses = Responses(trainee=trainee or "", scenario=scenario or "")
        self.queue = prompts_for(config, scenario, trainee)
        if scenario:
            self.queue += scenario_prompts(config, scenario)
        self.current: Prompt | None = None
        self.done_steps: list[str] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static("", id="prompt")
            yield Input(id="answer")
            yield OptionList(id="options")
            yield SelectionList[str](id="actions")
            yield Button("Next", id="next", variant="primary")
            with VerticalScroll(id="log"):
                yield Label("", id="steps")
        yield Footer()

    def on_mount(self) -> None:
        self.advance()

    def advance(self) -> None:
        if not self.queue:
            self.exit(self.responses)
            return
        self.current = prompt = self.queue.pop(0)
        self.query_one("#prompt", Static).update(prompt.text)
        answer, options, actions = (self.query_one("#answer", Input), self.query_one("#options", OptionList),
                                    self.query_one("#actions", SelectionList))
        answer.display = prompt.kind in ("name", "text")
        options.display = prompt.kind in ("scenario", "choice")
        actions.display = prompt.kind == "actions"
        self.query_one("#next", Button).display = prompt.kind in ("step", "actions")
        if answer.display:
            answer.value = ""
            answer.focus()
        if options.display:
            options.clear_options()
            options.add_options([label for _, label in prompt.options])
            options.highlighted = 0
            options.focus()
        if actions.display:
            actions.clear_options()
            actions.add_options([(label, value) for value, label in prompt.options])
            actions.focus()
        if prompt.kind == "step":
            self.query_one("#next", Button).focus()

    def _record(self, value: Any) -> None:
        prompt = self.current
        assert prompt is not None
        if prompt.kind == "name":
            self.responses.trainee = str(value).strip() or "anonymous"
        elif prompt.kind == "scenario":
            self.responses.scenario = value
            self.queue += scenario_prompts(self.config, value)
        elif prompt.kind == "step":
            self.done_steps.append(prompt.text)
            self.query_one("#steps", Label).update("\n".join(self.done_steps))
        elif prompt.kind == "actions":
            self.responses.actions[prompt.key] = list(value)
        elif prompt.kind == "choice":
            self.responses.quiz[prompt.key] = int(value)
        elif prompt.kind == "text":
            self.responses.quiz[prompt.key] = str(value)
        self.advance()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._record(event.value)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        assert self.current is not None
        self._record(self.current.options[event.option_index][0])

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if self.current is not None and self.current.kind == "actions":
            self._record(self.query_one("#actions", SelectionList).selected)
        else:
            self._record(None)

    def action_quit_rehearsal(self) -> None:
        self.exit(None)
