#!/usr/bin/env python3
"""Fabricate a small linkage test file for bench/link_peers.py.

Usage: python bench/make_link_sample.py N OUT.csv [--seed 7]

Writes about N case records (header
record_id,organisation,given_name,family_name,birth_date,place_of_birth,sex,citizenship,victim_id)
for victims held by up to three organisations (org-a/org-b/org-c, at most one
record per victim per organisation, about one victim in five in more than
one), with the disagreements real case files have: typos, spelling variants,
accents dropped, second given/family name missing, day and month of birth
swapped, birth year off by one, missing birth date / place / sex /
citizenship. Names are Zipf-skewed so that namesakes are common.

Only for testing the peers; the benchmark itself uses Corridor's generator.
"""
import argparse
import csv
import datetime as dt
import random

FEMALE = ("María Ana Rosa Carmen Gloria Marta Sandra Claudia Patricia Elena Lucía Juana "
          "Sofía Andrea Karla Yesenia Xiomara Lesly Heidy Estefany Dania Ingrid Brenda "
          "Wendy Maribel Reyna Esperanza Alejandra Verónica Mónica Silvia Irma Blanca "
          "Leticia Julia Isabel Adriana Lorena Rocío Dulce Jazmín Evelyn Mayra Nancy Débora").split()
MALE = ("José Juan Luis Carlos Jorge Mario Francisco Miguel Pedro Manuel Jesús Julio "
        "Óscar Víctor Edwin Erick Marvin Wilmer Byron Kevin Jonathan Brayan Yovani Henry "
        "Walter Selvin Elmer Nelson Rigoberto Santos Ángel Rafael Roberto Ramón Sergio "
        "Fernando Hugo Rubén Raúl Andrés Héctor Alexis Cristian Denis Darwin Josué").split()
SURNAMES = ("López García Hernández Martínez Pérez González Rodríguez Ramírez Morales "
            "Sánchez Cruz Flores Reyes Gómez Díaz Castillo Méndez Ramos Ortiz Vásquez "
            "Mejía Aguilar Juárez Chávez Torres Rivera Álvarez Romero Gutiérrez Jiménez "
            "Ruiz Mendoza Castro Herrera Orellana Escobar Argueta Pineda Zelaya Banegas "
            "Velásquez Osorio Fuentes Cabrera Marroquín Sosa Alvarado Rosales Menjívar "
            "Lemus Portillo Ayala Quiñónez Xol Choc Caal Tzul Ajú Coc Pú").split()
VARIANTS = {"Yesenia": "Yessenia", "Jonathan": "Jhonatan", "Brayan": "Bryan",
            "Kevin": "Kevyn", "Estefany": "Stephanie", "Lesly": "Leslie",
            "Heidy": "Heidi", "Yovani": "Giovanni", "Xiomara": "Siomara",
            "Vásquez": "Vázquez", "Velásquez": "Velázquez", "Josué": "Josue",
            "Wilmer": "Wilmar", "Selvin": "Selwin"}
PLACES = {
    "GTM": ["Ciudad de Guatemala", "Quetzaltenango", "Huehuetenango", "Cobán",
            "San Marcos", "Escuintla", "Chiquimula"],
    "HND": ["Tegucigalpa", "San Pedro Sula", "La Ceiba", "Choluteca", "Comayagua"],
    "SLV": ["San Salvador", "Santa Ana", "San Miguel", "Usulután", "Soyapango"],
    "NIC": ["Managua", "León", "Estelí", "Chinandega"],
    "MEX": ["Tapachula", "Oaxaca", "Veracruz", "Ciudad de México"],
    "VEN": ["Venezuela"], "COL": ["Colombia"], "CUB": ["Cuba"], "HTI": ["Haiti"],
    "ECU": ["Ecuador"],
}
CITIZENSHIP = [("GTM", 35), ("HND", 25), ("SLV", 15), ("NIC", 8), ("MEX", 5),
               ("VEN", 4), ("COL", 3), ("CUB", 2), ("HTI", 2), ("ECU", 1)]
REACH = [0.50, 0.40, 0.35]
ACCENTS = str.maketrans("áàäéèëíïóöúüñÁÉÍÓÚÑ", "aaaeeeiioouunAEIOUN")


def zipf_pick(rng, items):
    return items[min(int(rng.random() ** 2 * len(items)), len(items) - 1)]


def typo(rng, s):
    c = list(s)
    if len(c) < 3:
        return s
    i = rng.randrange(1, len(c) - 1)
    op = rng.randrange(4)
    if op == 0:
        c[i] = rng.choice("aeiounrstlmcdb")
    elif op == 1:
        del c[i]
    elif op == 2:
        c.insert(i, c[i])
    else:
        c[i], c[i + 1] = c[i + 1], c[i]
    return "".join(c)


def variant(s):
    for w in s.split(" "):
        if w in VARIANTS:
            return s.replace(w, VARIANTS[w], 1)
    return None


def make_victim(rng):
    cit = rng.choices([c for c, _ in CITIZENSHIP], [w for _, w in CITIZENSHIP])[0]
    female = rng.random() < 0.7
    names = FEMALE if female else MALE
    given = zipf_pick(rng, names)
    if rng.random() < 0.45:
        second = zipf_pick(rng, names)
        if second != given:
            given = f"{given} {second}"
    family = f"{zipf_pick(rng, SURNAMES)} {zipf_pick(rng, SURNAMES)}"
    age = rng.randrange(9, 18) if rng.random() < 0.3 else rng.randrange(18, 50)
    birth = dt.date(2024, 1, 1) - dt.timedelta(days=age * 365 + rng.randrange(365))
    return dict(given=given, family=family, female=female, birth=birth,
                place=rng.choice(PLACES[cit]), cit=cit)


def make_record(rng, v):
    r = dict(v)
    if rng.random() < 0.12:
        r["given"] = typo(rng, r["given"])
    if rng.random() < 0.12:
        r["family"] = typo(rng, r["family"])
    if rng.random() < 0.10:
        gv, fv = variant(r["given"]), variant(r["family"])
        if gv:
            r["given"] = gv
        elif fv:
            r["family"] = fv
    if rng.random() < 0.20 and " " in r["family"]:
        r["family"] = r["family"].split(" ")[0]
    if rng.random() < 0.15 and " " in r["given"]:
        r["given"] = r["given"].split(" ")[0]
    if rng.random() < 0.25:
        r["given"] = r["given"].translate(ACCENTS)
        r["family"] = r["family"].translate(ACCENTS)
    b = r["birth"]
    if rng.random() < 0.06 and b.day <= 12 and b.day != b.month:
        r["birth"] = dt.date(b.year, b.day, b.month)
    elif rng.random() < 0.10:
        r["birth"] = None
    elif rng.random() < 0.03:
        try:
            r["birth"] = b.replace(year=b.year + rng.choice((-1, 1)))
        except ValueError:  # 29 February
            r["birth"] = b - dt.timedelta(days=365)
    if rng.random() < 0.30:
        r["place"] = None
    if rng.random() < 0.03:
        r["female"] = None
    if rng.random() < 0.05:
        r["cit"] = None
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rows = []
    vid = 0
    while len(rows) < a.n:
        vid += 1
        v = make_victim(rng)
        first = rng.randrange(3)
        orgs = sorted({first} | {o for o in range(3) if o != first and rng.random() < REACH[o] * 0.27})
        for o in orgs:
            r = make_record(rng, v)
            rows.append([f"org-{'abc'[o]}", r["given"], r["family"],
                         r["birth"].isoformat() if r["birth"] else "",
                         r["place"] or "",
                         "" if r["female"] is None else ("F" if r["female"] else "M"),
                         r["cit"] or "", f"V{vid:07d}"])
    rows = rows[:a.n]
    rng.shuffle(rows)  # the file order must not give away the clusters
    ids = rng.sample(range(10_000_000, 100_000_000), len(rows))
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "organisation", "given_name", "family_name", "birth_date",
                    "place_of_birth", "sex", "citizenship", "victim_id"])
        for rid, row in zip(ids, rows):
            w.writerow([f"R{rid}"] + row)


if __name__ == "__main__":
    main()
