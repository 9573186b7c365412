# Texts of the notebook pages and API messages (en).

# approvals, reminders, calendar
reminder-untitled = Untitled
reminder-mail-subject = Reminder: { $subject }
reminder-mail-body = Reminder of “{ $subject }”.
    Due: { $due } ({ $tz }).
    Reminded { $minutes } min before.
event_stream_required = The event stream is only served to clients that send Accept: text/event-stream
