# Texts of the transfer pages and API messages (en).

## Import: whole-file problems
import_file_unreadable = The file cannot be read
import_file_empty = The file is empty
import_file_no_rows = The file has a header but no data rows
import_encoding_unknown = Cannot tell the file's encoding: save it as UTF-8 or Windows-1251
import_file_broken = The file is broken (line { $row }): not CSV
import_quotes_broken = Unmatched quote on line { $row }: the rows are shifted, fix the quotes
import_cell_too_large = A cell on line { $row } is too large (over 1 MB): probably an unclosed quote
import_xlsx_broken = The Excel file is damaged or not an XLSX/XLS workbook
import_xlsx_too_large = The workbook is larger than { $max_mb } MB unpacked: split it into several files
import_entity_unknown = Companies, contacts, leads, deals and activities can be imported
import_nothing_mapped = No column of the file is mapped to a field
import_target_unknown = Column “{ $column }” is mapped to an unknown field “{ $target }”
import_preset_unknown = Unknown preset: bitrix24 or amocrm
import_on_duplicate_unknown = Duplicate policy: skip, update or create
import_mapping_unknown = No saved mapping has this name
import_not_undoable = This import cannot be undone (a dry run, or undone already)
import_undo_changed = The record from row { $row } was changed after the import: undo stopped, nothing changed
import_undo_linked = Record { $id } of the import is already linked from other records: undo stopped, nothing changed
## Import: row problems
import_user_unknown = No user “{ $value }”
import_stage_unknown = No stage “{ $value }” in the default pipeline
import_columns_count = The row has { $found } cells, the header { $expected }
import_duplicate_forbidden = A duplicate was found but you may not edit it
import_row_refused = The row was refused
## Import: report
import-report = Rows: { $total }; created: { $created }; updated: { $updated }; duplicates skipped: { $skipped }; rejected: { $rejected }
import-report-dry = Dry run, nothing written.
import-problem = Row { $row }, column “{ $column }”: { $message }
import-problem-row = Row { $row }: { $message }
import-batch = Import batch no. { $id }
import-undone = Import no. { $id } undone
import-rejects-column = Problems
# duplicates, merge, data quality, bulk edit
problem-possible_duplicates = A similar record already exists. Check the candidates or confirm (X-Confirm-Duplicates: true)
duplicates-reason-inn_kpp = INN and KPP
duplicates-reason-inn = INN
duplicates-reason-phone = phone
duplicates-reason-email = e-mail
duplicates-reason-name = name
duplicates-task-subject = Check duplicates: { $reason } { $value }
merge_victims_invalid = Give 1 to 20 different records to merge
merge_survivor_is_victim = The surviving record cannot be one of the merged ones
merge_field_invalid = This field cannot be chosen in a merge
merge_source_invalid = A value can only come from the surviving or a merged record
merge_already_undone = This merge has already been undone
merge_changed_since = The records changed after the merge; it can no longer be undone
bulk_too_many = The filter matches more than 1,000 records; narrow it down
bulk_operation_invalid = Give exactly one operation: set, owner_id or add_tag

## Export
problem-export_forbidden = You are not allowed to export these records
export_row_limit = Your role may export at most { $limit } records at once; narrow the filter
export_unknown_column = No such column: { $column }
export_bad_format = Unknown format: csv, xlsx or json
export_bad_delimiter = Delimiter: ";", "," or tab
export_bad_entity = Companies, contacts, leads, deals and activities can be exported
export-yes = yes
export-no = no
export-done = Exported { $rows } records → { $path }
