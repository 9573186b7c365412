# Texts of the transfer pages and API messages (en).

# duplicates, merge, data quality, bulk edit
problem-possible_duplicates = A similar record already exists. Check the candidates or confirm (X-Confirm-Duplicates: true)
duplicates-reason-inn_kpp = INN and KPP
duplicates-reason-inn = INN
duplicates-reason-phone = phone
duplicates-reason-email = e-mail
duplicates-reason-name = name
duplicates-task-subject = Check duplicates: { $reason } { $value }
