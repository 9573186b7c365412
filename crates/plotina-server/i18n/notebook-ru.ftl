# Texts of the notebook pages and API messages (ru).

# approvals, reminders, calendar
reminder-untitled = Без темы
reminder-mail-subject = Напоминание: { $subject }
reminder-mail-body = Напоминание о деле «{ $subject }».
    Срок: { $due } ({ $tz }).
    Напоминание за { $minutes } мин.
event_stream_required = Поток событий отдаётся только клиентам с Accept: text/event-stream
