# Texts of the transfer pages and API messages (ru).

# duplicates, merge, data quality, bulk edit
problem-possible_duplicates = Похоже, такая запись уже есть. Проверьте найденные совпадения или подтвердите создание (X-Confirm-Duplicates: true)
duplicates-reason-inn_kpp = ИНН и КПП
duplicates-reason-inn = ИНН
duplicates-reason-phone = телефон
duplicates-reason-email = e-mail
duplicates-reason-name = название
duplicates-task-subject = Проверить дубли: { $reason } { $value }
merge_victims_invalid = Укажите от 1 до 20 разных записей для слияния
merge_survivor_is_victim = Основная запись не может быть среди объединяемых
merge_field_invalid = Это поле нельзя выбрать при слиянии
merge_source_invalid = Значение можно взять только из основной или объединяемой записи
merge_already_undone = Это слияние уже отменено
merge_changed_since = Записи изменились после слияния, отменить его уже нельзя
bulk_too_many = Под фильтр попадает больше 10 000 записей — сузьте его
bulk_operation_invalid = Укажите ровно одно действие: set, owner_id или add_tag
