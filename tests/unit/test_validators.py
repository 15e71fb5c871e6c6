"""Enrolment field validators: normalised value or a French ValueError."""

from datetime import date

import pytest

from idp.enrolment import validators as v

TODAY = date(2025, 6, 15)


def refused(func, value, match=None, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        func(value, **kwargs)
    return str(info.value)


# --- Phones ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("0612345678", "+33612345678"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+33612345678", "+33612345678"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("06-12-34-56-78", "+33612345678"),
        ("07 81 23 45 67", "+33781234567"),
        ("01.45.37.59.45", "+33145375945"),  # seed 003's landline
        ("01.01.01.01.01", "+33101010101"),  # seed 001's landline
        ("0590 12 34 56", "+590590123456"),  # Guadeloupe
        ("0692 12 34 56", "+262692123456"),  # La Réunion mobile
    ],
)
def test_french_phone_numbers_become_e164(typed, e164):
    assert v.phone(typed) == e164


@pytest.mark.parametrize(
    "typed", ["", "   ", "0612", "06 12 34 56 78 90", "abc", "+44 20 7946 0958", "+1 202 555 0143"]
)
def test_invalid_or_foreign_phone_numbers_are_refused(typed):
    assert refused(v.phone, typed) == "Numéro de téléphone invalide. Exemple : 06 12 34 56 78."


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("06.50.56.42.78", "+33650564278"),  # seed 003's mobile
        ("07 81 23 45 67", "+33781234567"),
        ("+33 7 81 23 45 67", "+33781234567"),
        ("0692 12 34 56", "+262692123456"),
    ],
)
def test_mobile_numbers(typed, e164):
    assert v.mobile_phone(typed) == e164


@pytest.mark.parametrize("typed", ["01 45 37 59 45", "02.02.02.02.02", "09 12 34 56 78"])
def test_a_landline_is_not_a_mobile(typed):
    assert refused(v.mobile_phone, typed) == "Indiquez un numéro de mobile (06 ou 07)."


@pytest.mark.parametrize(
    ("e164", "shown", "masked"),
    [
        ("+33612345678", "06 12 34 56 78", "06 ** ** ** 78"),
        ("+33145375945", "01 45 37 59 45", "01 ** ** ** 45"),
        ("+262692123456", "0692 12 34 56", "0692 ** ** 56"),
    ],
)
def test_format_and_mask_phone(e164, shown, masked):
    assert v.format_phone(e164) == shown
    assert v.mask_phone(e164) == masked


# --- Email -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("test@test.fr", "test@test.fr"),
        ("  Vincent@Nowhere.FR ", "vincent@nowhere.fr"),
        ("dci.interne@gmail.com", "dci.interne@gmail.com"),
        ("Marie.Dupont+ameli@Domaine.fr", "marie.dupont+ameli@domaine.fr"),
        ("élodie@exemple.fr", "élodie@exemple.fr"),
    ],
)
def test_email_is_normalised_to_lower_case(typed, normalised):
    assert v.email(typed) == normalised


@pytest.mark.parametrize(
    "typed", ["", "test", "test@", "@test.fr", "te st@test.fr", "test@test", "a@b@c.fr", "x@.fr"]
)
def test_invalid_email_is_refused(typed):
    assert refused(v.email, typed) == "Adresse électronique invalide. Exemple : nom@domaine.fr."


def test_mask_email():
    assert v.mask_email("mon.email@domaine.com") == "m***@domaine.com"


# --- Dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("01/01/2000", date(2000, 1, 1)),  # seed 001
        ("11/12/1991", date(1991, 12, 11)),  # seed 000
        ("11-12-1991", date(1991, 12, 11)),
        ("11.12.1991", date(1991, 12, 11)),
        ("11121991", date(1991, 12, 11)),
        (" 11/12/1991 ", date(1991, 12, 11)),
        ("1991-12-11", date(1991, 12, 11)),  # what <input type="date"> sends
        ("29/02/2000", date(2000, 2, 29)),
        ("01/01/1900", date(1900, 1, 1)),
        ("15/06/2025", TODAY),
        (date(1980, 5, 4), date(1980, 5, 4)),
    ],
)
def test_dates_are_parsed(typed, expected):
    assert v.past_date(typed, today=TODAY) == expected
    assert v.birthdate(typed, today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Date invalide : utilisez le format JJ/MM/AAAA."),
        ("1/1/2000", "Date invalide : utilisez le format JJ/MM/AAAA."),
        ("2000/01/01", "Date invalide : utilisez le format JJ/MM/AAAA."),
        ("01/01/00", "Date invalide : utilisez le format JJ/MM/AAAA."),
        ("hier", "Date invalide : utilisez le format JJ/MM/AAAA."),
        ("31/02/2000", "Cette date n'existe pas."),
        ("29/02/2001", "Cette date n'existe pas."),
        ("01/13/2000", "Cette date n'existe pas."),
        ("16/06/2025", "La date ne peut pas être dans le futur."),
        ("31/12/1899", "La date ne peut pas être antérieure à 1900."),
        (date(2030, 1, 1), "La date ne peut pas être dans le futur."),
    ],
)
def test_bad_dates_are_refused(typed, message):
    assert refused(v.past_date, typed, today=TODAY) == message


@pytest.mark.parametrize(
    ("born", "years"),
    [
        (date(2000, 6, 15), 25),
        (date(2000, 6, 16), 24),
        (date(2007, 6, 15), 18),
        (date(2007, 6, 16), 17),
        (date(2004, 2, 29), 21),
        (TODAY, 0),
    ],
)
def test_age_in_whole_years(born, years):
    assert v.age(born, today=TODAY) == years


def test_age_on_the_day_after_29_february():
    assert v.age(date(2008, 2, 29), today=date(2026, 2, 28)) == 17
    assert v.age(date(2008, 2, 29), today=date(2026, 3, 1)) == 18


def test_iso_dates_round_trip_to_the_french_format():
    assert v.parse_iso_date("1991-12-11") == date(1991, 12, 11)
    assert v.parse_iso_date(date(1991, 12, 11)) == date(1991, 12, 11)
    assert v.format_date("1991-12-11") == "11/12/1991"
    assert v.format_date(date(2000, 1, 1)) == "01/01/2000"


# --- SIRET and RNA -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("73282932000074", "73282932000074"),
        ("732 829 320 00074", "73282932000074"),
        ("732.829.320.00074", "73282932000074"),
        ("35600000000048", "35600000000048"),  # La Poste head office (Luhn)
        ("35600000049837", "35600000049837"),  # La Poste establishment (digit sum % 5)
    ],
)
def test_valid_siret(typed, number):
    assert v.siret(typed) == number


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Le SIRET comporte 14 chiffres."),
        ("7328293200007", "Le SIRET comporte 14 chiffres."),
        ("732829320000745", "Le SIRET comporte 14 chiffres."),
        ("7328293200007A", "Le SIRET comporte 14 chiffres."),
        ("73282932000075", "Ce numéro SIRET n'est pas valide : vérifiez-le."),
        ("35600000049838", "Ce numéro SIRET n'est pas valide : vérifiez-le."),
    ],
)
def test_invalid_siret(typed, message):
    assert refused(v.siret, typed) == message


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("W751234567", "W751234567"),
        ("w751234567", "W751234567"),
        (" W 751 234 567 ", "W751234567"),
        ("W2A1002345", "W2A1002345"),  # Corse-du-Sud
        ("W9R2000001", "W9R2000001"),  # overseas prefecture code with a letter
    ],
)
def test_valid_rna(typed, number):
    assert v.rna(typed) == number


@pytest.mark.parametrize("typed", ["", "751234567", "W75123456", "W7512345678", "X751234567",
                                   "WW51234567", "W75123456A"])  # fmt: skip
def test_invalid_rna(typed):
    assert refused(v.rna, typed) == (
        "Le n° RNA commence par W suivi de 9 caractères (ex : W751234567)."
    )


# --- INE ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("0000", v.INE_MISSING),  # seed 000: "Saisissez 0000" without an INE
        (" 0000 ", v.INE_MISSING),
        ("1234567890V", "1234567890V"),  # INE-BEA: 1234567890 % 23 = 19 → V
        ("0123456789M", "0123456789M"),
        ("9876543210e", "9876543210E"),  # key letter in lower case
        ("0A1B2C3D4E0", "0A1B2C3D4E0"),  # INE-Base 36
        ("AB12CD34EF5", "AB12CD34EF5"),
        ("12345678900", "12345678900"),  # Base 36 with digits only
        ("123456789AB", "123456789AB"),  # INE-RNIE (format only)
        ("000000001HK", "000000001HK"),
        ("1234A12345F", "1234A12345F"),  # INE-SIFA (format only)
        ("12 34 56 78 90 V", "1234567890V"),
    ],
)
def test_valid_ine(typed, number):
    assert v.ine(typed) == number


def test_ine_missing_sentinel_is_0000():
    assert v.INE_MISSING == "0000"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Le n° INE comporte 11 caractères (ou saisissez 0000)."),
        ("000", "Le n° INE comporte 11 caractères (ou saisissez 0000)."),
        ("1234567890", "Le n° INE comporte 11 caractères (ou saisissez 0000)."),
        ("1234567890VV", "Le n° INE comporte 11 caractères (ou saisissez 0000)."),
        ("1234567890W", "Ce n° INE n'est pas valide : vérifiez la clé (dernier caractère)."),
        ("1234567890I", "Ce n° INE n'a pas un format connu : vérifiez-le."),  # no I in the keys
        ("0000000000A", "Ce n° INE n'est pas valide : vérifiez la clé (dernier caractère)."),
        ("0A1B2C3D4E1", "Ce n° INE n'est pas valide : vérifiez la clé (dernier caractère)."),
        ("11111111111", "Ce n° INE n'est pas valide : vérifiez la clé (dernier caractère)."),
        ("ABCDEFGHIJ0", "Ce n° INE n'est pas valide : vérifiez la clé (dernier caractère)."),
        ("123456789AI", "Ce n° INE n'a pas un format connu : vérifiez-le."),
        ("1234567ABCD", "Ce n° INE n'a pas un format connu : vérifiez-le."),
        ("1234B12345F", "Ce n° INE n'a pas un format connu : vérifiez-le."),
    ],
)
def test_invalid_ine(typed, message):
    assert refused(v.ine, typed) == message


# --- NIR ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("295109912611193", "295109912611193"),
        ("2 95 10 99 126 111 93", "295109912611193"),
        ("2.95.10.99.126.111.93", "295109912611193"),
        ("253072B07300470", "253072B07300470"),  # Haute-Corse: 2B counts as 18
        ("2 53 07 2b 073 004 70", "253072B07300470"),
        ("253072A07300443", "253072A07300443"),  # Corse-du-Sud: 2A counts as 19
        ("155125555555597", "155125555555597"),  # seed 002's example with its true key
    ],
)
def test_valid_nir(typed, number):
    assert v.nir(typed) == number


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Le n° de sécurité sociale comporte 15 caractères, clé comprise."),
        ("2951099126111", "Le n° de sécurité sociale comporte 15 caractères, clé comprise."),
        ("2951099126111933", "Le n° de sécurité sociale comporte 15 caractères, clé comprise."),
        ("995109912611193", "Le n° de sécurité sociale commence par 1 ou 2."),
        ("295109912611194", "Ce n° de sécurité sociale n'est pas valide : vérifiez la clé."),
        ("1 55 12 55 555 555 55", "Ce n° de sécurité sociale n'est pas valide : vérifiez la clé."),
        ("253072A07300470", "Ce n° de sécurité sociale n'est pas valide : vérifiez la clé."),
        ("253072C07300443", "Ce n° de sécurité sociale n'est pas valide : vérifiez la clé."),
        ("2951099X2611193", "Ce n° de sécurité sociale n'est pas valide : vérifiez la clé."),
    ],
)
def test_invalid_nir(typed, message):
    assert refused(v.nir, typed) == message


# --- FINESS, N° tiers, Vitale serial -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("750712184", "750712184"),  # AP-HP
        ("75 071 218 4", "750712184"),
        ("130780422", "130780422"),
        ("2A0000015", "2A0000015"),  # Corsica: shape only
        ("2b1234567", "2B1234567"),
    ],
)
def test_valid_finess(typed, number):
    assert v.finess(typed) == number
    assert v.tiers(typed) == number


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Le n° FINESS comporte 9 chiffres."),
        ("75071218", "Le n° FINESS comporte 9 chiffres."),
        ("7507121840", "Le n° FINESS comporte 9 chiffres."),
        ("2C0000015", "Le n° FINESS comporte 9 chiffres."),
        ("750712185", "Ce n° FINESS n'est pas valide : vérifiez-le."),
    ],
)
def test_invalid_finess(typed, message):
    assert refused(v.finess, typed) == message


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("0102457612 4", "01024576124"),
        ("01024576124", "01024576124"),
        ("99999999999", "99999999999"),
    ],
)
def test_vitale_serial_is_eleven_digits(typed, number):
    assert v.vitale_serial(typed) == number


@pytest.mark.parametrize("typed", ["", "0102457612", "010245761245", "0102457612A"])
def test_invalid_vitale_serial(typed):
    assert refused(v.vitale_serial, typed) == (
        "Le numéro de série comporte 11 chiffres (ex : 0102457612 4)."
    )


# --- Postcode, civility, names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "code"),
    [("92120", "92120"), ("75001", "75001"), (" 01000 ", "01000"), ("20000", "20000"),
     ("20200", "20200"), ("97110", "97110"), ("97400", "97400"), ("98800", "98800")],
)  # fmt: skip
def test_valid_postcode(typed, code):
    assert v.postcode(typed) == code


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2A004", "En Corse, le code postal commence par 20 (ex : 20000)."),
        ("2b200", "En Corse, le code postal commence par 20 (ex : 20000)."),
        ("", "Le code postal comporte 5 chiffres (ex : 75001)."),
        ("7500", "Le code postal comporte 5 chiffres (ex : 75001)."),
        ("750011", "Le code postal comporte 5 chiffres (ex : 75001)."),
        ("00100", "Le code postal comporte 5 chiffres (ex : 75001)."),
        ("96000", "Le code postal comporte 5 chiffres (ex : 75001)."),
        ("99000", "Le code postal comporte 5 chiffres (ex : 75001)."),
        ("MONTROUGE", "Le code postal comporte 5 chiffres (ex : 75001)."),
    ],
)
def test_invalid_postcode(typed, message):
    assert refused(v.postcode, typed) == message


@pytest.mark.parametrize(
    ("typed", "value"),
    [("Madame", "Madame"), ("madame", "Madame"), ("Mme", "Madame"), ("MONSIEUR", "Monsieur"),
     ("M.", "Monsieur"), (" m ", "Monsieur")],
)  # fmt: skip
def test_civility(typed, value):
    assert v.civility(typed) == value


@pytest.mark.parametrize("typed", ["", "Mlle", "Docteur", "Mx"])
def test_unknown_civility(typed):
    assert refused(v.civility, typed) == "Choisissez Madame ou Monsieur."


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Test", "Test"),
        ("  Marie   Claire ", "Marie Claire"),
        ("Jean-Pierre", "Jean-Pierre"),
        ("Jean - Pierre", "Jean-Pierre"),
        ("O’Neil", "O'Neil"),
        ("D'Artagnan", "D'Artagnan"),
        ("Éloïse d'Aubigné-Laval", "Éloïse d'Aubigné-Laval"),
        ("Zoë", "Zoë"),
        ("Ng", "Ng"),
        ("E\u0301lodie", "Élodie"),  # decomposed accent is composed
        ("A" * 100, "A" * 100),
    ],
)
def test_valid_names(typed, name):
    assert v.person_name(typed) == name


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Ce champ est obligatoire."),
        ("   ", "Ce champ est obligatoire."),
        ("A" * 101, "100 caractères au maximum."),
        ("Jean2", "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes."),
        ("-Jean", "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes."),
        ("Jean'", "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes."),
        (
            "Jean--Pierre",
            "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes.",
        ),
        (
            "Jean_Pierre",
            "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes.",
        ),
        (
            "<b>Jean</b>",
            "Utilisez seulement des lettres, des espaces, des tirets et des apostrophes.",
        ),
    ],
)
def test_invalid_names(typed, message):
    assert refused(v.person_name, typed) == message


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Éloïse d'Aubigné-Laval", "ELOISE D AUBIGNE LAVAL"),
        ("  jean   pierre ", "JEAN PIERRE"),
        ("O’Neil", "O NEIL"),
        ("Œdipe Straße", "OEDIPE STRASSE"),
        ("Lætitia", "LAETITIA"),
        ("", ""),
    ],
)
def test_normalise_name(typed, normalised):
    assert v.normalise_name(typed) == normalised


# --- Usernames -----------------------------------------------------------------------------


def taken_from(*names):
    return lambda candidate: candidate in names


@pytest.mark.parametrize(
    ("given", "family", "taken", "username"),
    [
        ("Test", "Test", (), "test.test"),  # seed 001
        ("Marie", "Dupont", (), "marie.dupont"),
        ("Éloïse", "Aubigné", (), "eloise.aubigne"),
        ("Jean-Pierre Marie", "Dupont", (), "jean-pierre.dupont"),  # first given name only
        ("Anne", "D'Artagnan", (), "anne.d-artagnan"),
        ("Anne", "de la Tour", (), "anne.de-la-tour"),
        ("Zoë", "L’Hôte", (), "zoe.l-hote"),
        ("  Marie  ", "  Dupont  ", (), "marie.dupont"),
        ("Marie", "Dupont", ("marie.dupont",), "marie.dupont2"),
        ("Marie", "Dupont", ("marie.dupont", "marie.dupont2"), "marie.dupont3"),
        ("Marie", "Dupont", ("marie.dupont", "marie.dupont3"), "marie.dupont2"),
        ("", "Dupont", (), "dupont"),
        ("Marie", "", (), "marie"),
    ],
)
def test_suggest_username(given, family, taken, username):
    assert v.suggest_username(given, family, taken_from(*taken)) == username


def test_suggest_username_counts_up_until_free():
    taken = {"marie.dupont", *(f"marie.dupont{n}" for n in range(2, 40))}
    assert v.suggest_username("Marie", "Dupont", taken.__contains__) == "marie.dupont40"


def test_suggest_username_needs_a_name():
    assert refused(v.suggest_username, "", family="", taken=taken_from()) == (
        "Indiquez votre nom et votre prénom."
    )


def test_suggested_usernames_are_valid_usernames():
    suggested = v.suggest_username("Éloïse-Marie", "d'Aubigné de la Tour" * 5, taken_from())
    assert len(suggested) <= 64
    assert v.username(suggested) == suggested


@pytest.mark.parametrize(
    ("typed", "username"),
    [("marie.dupont", "marie.dupont"), ("  Marie.Dupont2 ", "marie.dupont2"),
     ("jean-pierre_d", "jean-pierre_d"), ("abc", "abc"), ("a" * 64, "a" * 64)],
)  # fmt: skip
def test_valid_usernames(typed, username):
    assert v.username(typed) == username


@pytest.mark.parametrize(
    "typed", ["", "ab", "a" * 65, ".marie", "marie.", "marie..dupont", "élodie", "marie dupont",
              "marie@dupont.fr"],
)  # fmt: skip
def test_invalid_usernames(typed):
    assert refused(v.username, typed).startswith("De 3 à 64 caractères")
