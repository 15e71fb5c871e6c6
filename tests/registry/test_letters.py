"""Letter rendering details: spreadsheet-safe CSV cells, PDF text in the core fonts' range."""

from idp.registry.letters import _cell
from idp.registry.letters import _pdf_text


def test_csv_cells_never_start_a_formula():
    assert _cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert _cell("+33 1 23") == "'+33 1 23"
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("12 rue de la Paix") == "12 rue de la Paix"
    assert _cell(None) == ""


def test_pdf_text_keeps_french_and_degrades_the_rest():
    assert _pdf_text("Lefèvre-Œuvray « N° » l’été 20 €") == "Lefèvre-Œuvray « N° » l’été 20 €"
    assert _pdf_text("Łukasz Ğül Ødegård") == "Lukasz Gül Odegård"
    assert _pdf_text("漢") == "?"
