# Texts of the notebook pages and API messages (ru).

# approvals, reminders, calendar
reminder-untitled = Без темы
reminder-mail-subject = Напоминание: { $subject }
reminder-mail-body = Напоминание о деле «{ $subject }».
    Срок: { $due } ({ $tz }).
    Напоминание за { $minutes } мин.
event_stream_required = Поток событий отдаётся только клиентам с Accept: text/event-stream
problem-approval_own_request = Нельзя согласовать собственный запрос
problem-approval_not_approver = Решение по этому запросу принимает другой сотрудник
approval_already_decided = По запросу уже принято решение
approval_no_approver = Не найден согласующий: у отдела нет руководителя
approval_field_unsupported = Согласование этого поля не поддерживается (доступно: скидка сделки, discount_pct)
approval_role_unknown = Роль: all, mine или to_me
approval_state_unknown = Состояние: pending, approved или rejected
