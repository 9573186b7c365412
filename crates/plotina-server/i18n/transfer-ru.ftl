# Texts of the transfer pages and API messages (ru).

# duplicates, merge, data quality, bulk edit
problem-possible_duplicates = Похоже, такая запись уже есть. Проверьте найденные совпадения или подтвердите создание (X-Confirm-Duplicates: true)
duplicates-reason-inn_kpp = ИНН и КПП
duplicates-reason-inn = ИНН
duplicates-reason-phone = телефон
duplicates-reason-email = e-mail
duplicates-reason-name = название
duplicates-task-subject = Проверить дубли: { $reason } { $value }
