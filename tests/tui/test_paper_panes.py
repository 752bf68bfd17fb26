"""Issue 19 in the app: a replayed sweep over the paper's suite sets the paper's published figures beside ours in the
Results and Compare panes, as `report` and `compare` do; a session off the paper's suite shows none."""

from __future__ import annotations

from tests.bench.test_paper_suite import paper_root  # noqa: F401 (the fixture: skips when the suite cannot be set up)
from tests.cli.test_paper_report import sweeps  # noqa: F401 (two stored paper sweeps: MoKA and a single query)


async def test_the_app_sets_the_papers_figures_beside_a_paper_sweep(sweeps):
    """The Results pane (7) of a replayed paper sweep and the Compare pane (8) of two: the paper's figures for the same
    method beside ours, per category and overall, with where they came from; '-' where the paper published none."""
    from textual.widgets import DataTable, Static

    from mkb_tui.tui.app import MkbApp

    db, (moka, single) = sweeps
    app = MkbApp(db=db, replay=moka)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        await pilot.press("7")
        await pilot.pause()
        table = app.query_one("#results-paper", DataTable)
        assert table.display
        rows = {str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)] for i in range(table.row_count)}
        # category, tasks, then ours and the paper's for CSR, FCR, fast_0.5, fast_1.0, fast_1.5
        assert rows["Binary"] == ["Binary", "8", "87.5", "100.0", "75.0", "75.0", "75.0", "-", "25.0", "50.0", "12.5", "-"]
        assert rows["all"][-2:] == ["12.5", "27.4"]  # MoKA's published fast_1.5 over its 190 tasks
        notes = str(app.query_one("#results-paper-notes", Static).render())
        assert "MoKA (10 iterations)" in notes and "Table 5" in notes and "over the 8 tasks" in notes

        await pilot.press("8")
        cats = app.query_one("#compare-categories", DataTable)
        for _ in range(100):  # the Compare worker reads the store
            await pilot.pause(0.1)
            if cats.row_count:
                break
        lines = [[str(c) for c in cats.get_row_at(i)] for i in range(cats.row_count)]
        paper = [line for line in lines if line[1] == "paper"]
        assert ["Binary", "paper", "100.0", "75.0", "-", "50.0", "-", "-"] in paper  # MoKA's per-category row
        assert sum(1 for line in paper if line[0] == "all") == 2  # both methods' published overall rows
        assert "paper = MoKA (10 iterations)" in str(app.query_one("#compare-paired", Static).render())


async def test_a_session_off_the_papers_suite_shows_no_paper_figures(stored_session):
    from textual.widgets import DataTable

    from mkb_tui.tui.app import MkbApp

    db, sid = stored_session
    app = MkbApp(db=db, replay=sid)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        await pilot.press("7")
        await pilot.pause()
        assert app.query_one("#results-table", DataTable).row_count > 0
        assert not app.query_one("#results-paper", DataTable).display
