# Texts of the transfer pages and API messages (en).

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
bulk_too_many = The filter matches more than 10,000 records; narrow it down
bulk_operation_invalid = Give exactly one operation: set, owner_id or add_tag
