"""A survey provider's split reuses its participants step's validation of the very same file, and
no step of a wave is answered from, or matched to, a step done with another file."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from linkwell.audit import AuditAction
from linkwell.audit.log import read_log
from linkwell.cli import main
from linkwell.config import FolderTransport
from linkwell.demo import demo_parties, write_project_file
from linkwell.errors import InputError, ReadError, ValidationError
from linkwell.fileio import write_text_atomic
from linkwell.roles import provider
from linkwell.seal import card_toml, create_identity, new_identity
from linkwell.synth import FileFormat, MessRates, SynthFormats, synthesise
from linkwell.workspace import Workspace

SOURCE = "secondary"


@pytest.fixture
def survey_workspace(tmp_path: Path) -> tuple[Workspace, Path]:
    """The secondary survey's contractor in its own workspace; other parties as cards only."""
    synthetic = synthesise(
        tmp_path / "area",
        children=400,
        seed=3,
        mess=MessRates(missing_value=0.01),
        formats=SynthFormats.every(FileFormat.PARQUET),
    )
    parties = demo_parties(synthetic)
    (me,) = [p for p in parties if SOURCE in p.sources]
    cards, passphrase = {}, secrets.token_urlsafe(16)
    for party in parties:
        if party is me:
            cards[party.name] = create_identity(
                party.name, party.role, tmp_path / "keys", passphrase
            ).card_file
        else:
            cards[party.name] = tmp_path / f"{party.name}.toml"
            cards[party.name].write_text(card_toml(new_identity(party.name, party.role)))
    project = tmp_path / "project.toml"
    write_project_file(
        project,
        synthetic=synthetic,
        parties=parties,
        cards=cards,
        transport=FolderTransport(root=tmp_path / "x"),
    )
    write_text_atomic(tmp_path / "passphrase", passphrase + "\n")  # private (0600)
    ws = Workspace.create(
        tmp_path / "ws",
        project_file=project,
        party=me.name,
        keyring=tmp_path / "keys",
        passphrase_file=tmp_path / "passphrase",
    )
    (source,) = [s for s in synthetic.sources if s.source == SOURCE]
    return ws, source.path


def _validations(ws: Workspace) -> int:
    return sum(
        1
        for line in read_log(ws.root / "audit.log")
        if line.entry is not None and line.entry.action is AuditAction.VALIDATED
    )


def test_split_reuses_the_participants_validation(
    survey_workspace: tuple[Workspace, Path],
) -> None:
    ws, input_file = survey_workspace
    listed = provider.share_participants(ws, source=SOURCE, input_file=input_file)
    split = provider.split(ws, source=SOURCE, input_file=input_file)
    assert _validations(ws) == 1
    assert split.validation == listed.validation
    assert listed.validation.rows_quarantined > 0  # the quarantine is carried over too
    earlier = ws.step_dir(f"participants-{SOURCE}") / "validation"
    reused = ws.step_dir(f"split-{SOURCE}") / "validation"
    assert sorted(p.name for p in reused.iterdir()) == sorted(p.name for p in earlier.iterdir())
    for path in earlier.iterdir():
        assert (reused / path.name).read_bytes() == path.read_bytes()
    identifiers = pq.read_table(ws.step_dir(f"split-{SOURCE}") / "identifiers.parquet")
    assert identifiers.num_rows == split.shared == listed.validation.rows_accepted


def _re_exported(input_file: Path, tmp_path: Path) -> Path:
    """The same extract with its last seven rows gone, as a provider's second export might be."""
    table = pq.read_table(input_file)
    changed = tmp_path / "re-exported.parquet"
    pq.write_table(table.slice(0, table.num_rows - 7), changed)
    return changed


def test_a_split_of_another_file_than_the_participants_lists_is_refused(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, input_file = survey_workspace
    listed = provider.share_participants(ws, source=SOURCE, input_file=input_file)
    changed = _re_exported(input_file, tmp_path)
    with pytest.raises(InputError, match=r"participants-secondary.*another file") as refused:
        provider.split(ws, source=SOURCE, input_file=changed)
    assert refused.value.file == str(changed)
    assert not ws.step_dir(f"split-{SOURCE}").exists()
    assert _validations(ws) == 1  # refused before anything was read
    split = provider.split(ws, source=SOURCE, input_file=input_file)  # the list's own file
    assert split.shared == listed.validation.rows_accepted


@pytest.mark.parametrize("first", ["participants", "split"])
def test_a_done_step_is_not_answered_for_another_file(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path, first: str
) -> None:
    ws, input_file = survey_workspace
    steps = {"participants": provider.share_participants, "split": provider.split}
    done = steps[first](ws, source=SOURCE, input_file=input_file)
    changed = _re_exported(input_file, tmp_path)
    for step in steps.values():  # the step itself, and the other one, matched to its file
        with pytest.raises(InputError, match=rf"'{first}-{SOURCE}' .* another file") as refused:
            step(ws, source=SOURCE, input_file=changed)
        assert refused.value.file == str(changed)
        assert "step.json" in str(refused.value.hint)
    assert steps[first](ws, source=SOURCE, input_file=input_file) == done
    assert _validations(ws) == 1


def _recoded(input_file: Path, dest: Path, *, lower_every: int) -> tuple[Path, list[object]]:
    """The survey file with some authority codes in lower case and some mistyped (S1200000)."""
    table = pq.read_table(input_file)
    codes = table.column("LACode").to_pylist()

    def recode(i: int, code: object) -> object:
        if code is None:
            return None
        if i % lower_every == 0:
            return str(code).lower()
        return "S1200000" if i % 7 == 1 else code

    changed = [recode(i, code) for i, code in enumerate(codes)]
    column = table.schema.get_field_index("LACode")
    pq.write_table(table.set_column(column, "LACode", pa.array(changed, pa.string())), dest)
    return dest, codes


def test_pupils_whose_authority_code_is_no_projects_are_counted_not_lost(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, input_file = survey_workspace
    changed, _ = _recoded(input_file, tmp_path / "codes.parquet", lower_every=5)
    listed = provider.share_participants(ws, source=SOURCE, input_file=changed)
    accepted = pq.read_table(
        ws.step_dir(f"participants-{SOURCE}") / "validation" / "accepted.parquet"
    )
    ids = accepted.column("unique_id").to_pylist()
    authorities = accepted.column("authority").to_pylist()
    off = {i for i, a in zip(ids, authorities, strict=True) if a == "S1200000"}
    assert off  # the synthetic file has rows of both kinds
    assert listed.not_listed == len(off)
    assert sum(listed.participants.values()) == len(set(ids) - off)  # lower case still listed


def test_an_authority_code_in_another_case_is_sent_as_the_project_writes_it(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    """Listed in any case, so counted in any case: the analysis must see one authority."""
    ws, input_file = survey_workspace
    changed, codes = _recoded(input_file, tmp_path / "codes.parquet", lower_every=3)
    provider.split(ws, source=SOURCE, input_file=changed)
    content = pq.read_table(ws.step_dir(f"split-{SOURCE}") / "content.parquet")
    listed = {str(s.authority_code) for s in ws.project.sources if s.authority_code}
    sent = set(content.column("authority").to_pylist()) - {None}
    assert sent == (listed & {c for c in codes if c is not None}) | {"S1200000"}
    assert len(content) == len(
        pq.read_table(ws.step_dir(f"split-{SOURCE}") / "identifiers.parquet")
    )


def test_a_file_with_no_valid_row_is_refused_pointing_at_its_problems(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, input_file = survey_workspace
    table = pq.read_table(input_file)
    broken = tmp_path / "broken.parquet"
    stages = pa.array(["P9"] * table.num_rows, pa.string())
    stage = next(n for n in table.column_names if n.lower() == "stage")
    pq.write_table(table.set_column(table.schema.get_field_index(stage), stage, stages), broken)
    with pytest.raises(ValidationError, match="no row of the file passed") as refused:
        provider.split(ws, source=SOURCE, input_file=broken)
    listed = Path(str(refused.value.hint).split("listed in ", 1)[1].split(" (", 1)[0])
    assert listed.is_file()
    assert "linkwell validate" in str(refused.value.hint)


def test_the_provider_commands_name_personal_columns_they_dropped(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, input_file = survey_workspace
    table = pq.read_table(input_file)
    names = pa.array([f"Pupil{i:05d}" for i in range(table.num_rows)])
    with_names = tmp_path / "with-names.parquet"
    pq.write_table(table.append_column("Forename", names), with_names)
    runner = CliRunner()
    for command in ("participants", "split"):
        args = ["provider", command, "-w", str(ws.root), "--source", SOURCE, str(with_names)]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert "look like names" in result.output
        assert "Forename" in result.output
        assert "Pupil0" not in result.output
    listed = ws.completed(f"participants-{SOURCE}", provider.ParticipantsResult)
    assert listed is not None
    assert listed.validation.personal_columns == ("Forename",)


def test_a_pipe_given_as_the_file_is_refused_not_waited_on(
    survey_workspace: tuple[Workspace, Path], tmp_path: Path
) -> None:
    ws, _input_file = survey_workspace
    pipe = tmp_path / "extract.csv"
    os.mkfifo(pipe)  # no writer: reading it, even to hash it, would block for ever
    for step in (provider.share_participants, provider.split):
        with pytest.raises(ReadError, match="not a regular file"):
            step(ws, source=SOURCE, input_file=pipe)


def test_an_authority_counts_the_pupils_who_took_part_whose_rows_it_quarantined(
    tmp_path: Path,
) -> None:
    """They reach the report only as 'not linked', which would be put down to linkage."""
    import tomllib

    from linkwell.config import ColumnMapping
    from linkwell.engine import Engine
    from linkwell.schema import load_dataset, validate_file

    synthetic = synthesise(
        tmp_path / "area",
        children=400,
        seed=5,
        mess=MessRates(missing_value=0.05),
        formats=SynthFormats.every(FileFormat.CSV),
    )
    (authority,) = [s for s in synthetic.sources if s.authority_code]
    mappings = tomllib.loads(synthetic.mapping.read_text(encoding="utf-8"))
    mapping = ColumnMapping.model_validate(mappings[authority.source])
    dataset = load_dataset(authority.dataset, authority.dataset_version)
    with Engine() as engine:
        result = validate_file(
            authority.path, dataset, mapping, out_dir=tmp_path / "v", engine=engine
        )
        quarantined = pq.read_table(tmp_path / "v" / "quarantined-ids.parquet").column(0)
        accepted = pq.read_table(result.accepted).column("unique_id")
        assert result.rows_quarantined > 0
        took_part = pa.concat_arrays(
            [quarantined.combine_chunks()[::2], accepted.combine_chunks()[::3]]
        )
        pq.write_table(pa.table({"unique_id": took_part}), tmp_path / "participants.parquet")
        counts = provider.split_extract(
            engine,
            result.accepted,
            dataset,
            participants=[tmp_path / "participants.parquet"],
            identifiers_dest=tmp_path / "identifiers.parquet",
            content_dest=tmp_path / "content.parquet",
        )
    assert counts.quarantined_participants == len(quarantined.combine_chunks()[::2])
    assert counts.shared == len(accepted.combine_chunks()[::3])
