# Texts of the transfer pages and API messages (ru).

## Импорт: ошибки файла целиком
import_file_unreadable = Файл не удаётся прочитать
import_file_empty = Файл пуст
import_file_no_rows = В файле есть заголовок, но нет ни одной строки данных
import_encoding_unknown = Не удалось определить кодировку файла: сохраните его в UTF-8 или Windows-1251
import_file_broken = Файл повреждён (строка { $row }): это не CSV
import_quotes_broken = Непарная кавычка в строке { $row }: строки файла сдвинулись, исправьте кавычки
import_cell_too_large = Слишком большая ячейка в строке { $row } (больше 1 МБ): вероятно, не закрыта кавычка
import_xlsx_broken = Файл Excel повреждён или не является книгой XLSX/XLS
import_xlsx_too_large = Книга Excel после распаковки больше { $max_mb } МБ: разбейте её на несколько файлов
import_entity_unknown = Импортировать можно компании, контакты, лиды, сделки и дела
import_nothing_mapped = Ни одна колонка файла не сопоставлена с полем
import_target_unknown = Колонке «{ $column }» назначено неизвестное поле «{ $target }»
import_preset_unknown = Неизвестный шаблон: bitrix24 или amocrm
import_on_duplicate_unknown = Политика дублей: skip, update или create
import_mapping_unknown = Нет сохранённого сопоставления с таким именем
import_not_undoable = Этот импорт нельзя отменить (пробный прогон или уже отменён)
import_undo_changed = Запись из строки { $row } изменили после импорта: отмена остановлена, ничего не изменено
import_undo_linked = На запись { $id } из импорта уже ссылаются другие записи: отмена остановлена, ничего не изменено
## Импорт: ошибки строк
import_user_unknown = Нет пользователя «{ $value }»
import_stage_unknown = Нет стадии «{ $value }» в воронке по умолчанию
import_columns_count = В строке { $found } ячеек, а в заголовке { $expected }
import_duplicate_forbidden = Найден дубль, но изменять его вам не разрешено
import_row_refused = Строка не принята
## Импорт: отчёт
import-report = Строк: { $total }; создано: { $created }; обновлено: { $updated }; пропущено дублей: { $skipped }; отклонено: { $rejected }
import-report-dry = Пробный прогон, ничего не записано.
import-problem = Строка { $row }, колонка «{ $column }»: { $message }
import-problem-row = Строка { $row }: { $message }
import-batch = Пакет импорта № { $id }
import-undone = Импорт № { $id } отменён
import-rejects-column = Ошибки
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
bulk_too_many = Под фильтр попадает больше 1 000 записей — сузьте его
bulk_operation_invalid = Укажите ровно одно действие: set, owner_id или add_tag

## Export
problem-export_forbidden = Нет права на выгрузку этих записей
export_row_limit = Ваша роль может выгрузить не больше { $limit } записей за раз — сузьте фильтр
export_unknown_column = Нет такого столбца: { $column }
export_bad_format = Неизвестный формат: csv, xlsx или json
export_bad_delimiter = Разделитель: «;», «,» или tab
export_bad_entity = Выгружать можно компании, контакты, лиды, сделки и дела
export-yes = да
export-no = нет
export-done = Выгружено записей: { $rows } → { $path }
