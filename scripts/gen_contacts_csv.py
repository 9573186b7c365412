#!/usr/bin/env python3
"""Writes a contacts CSV for the import benchmark: `gen_contacts_csv.py ROWS FILE [--cp1251]`.

Semicolon-separated like a Russian Excel export; every 50th row repeats an earlier
e-mail (a duplicate) and every 200th has a broken e-mail (a reject)."""
import random
import sys

rows = int(sys.argv[1])
path = sys.argv[2]
encoding = "cp1251" if "--cp1251" in sys.argv else "utf-8"
rnd = random.Random(42)
last = ["Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов", "Соколов", "Лебедев"]
first = ["Иван", "Пётр", "Анна", "Мария", "Олег", "Елена", "Сергей", "Ольга"]
middle = ["Иванович", "Петрович", "Сергеевна", "Олегович", "Андреевна"]
pos = ["Директор", "Бухгалтер", "Менеджер по закупкам", "Инженер", "Снабженец"]
with open(path, "w", encoding=encoding, newline="") as f:
    f.write("Фамилия;Имя;Отчество;Должность;Мобильный телефон;E-mail;Дата рождения\r\n")
    for i in range(rows):
        n = i
        if i % 50 == 49:
            n = rnd.randrange(max(i - 1, 1))
        email = f"user{n}@example.ru" if i % 200 != 199 else f"user{n}-at-example.ru"
        phone = f"+7 9{n % 100:02d} {n // 10000 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"
        f.write(";".join([
            rnd.choice(last), rnd.choice(first), rnd.choice(middle), rnd.choice(pos),
            phone, email, f"{rnd.randrange(1, 28):02d}.{rnd.randrange(1, 13):02d}.{rnd.randrange(1950, 2000)}",
        ]) + "\r\n")
