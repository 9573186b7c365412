# Texts of the notebook pages and API messages (en).

# approvals, reminders, calendar
reminder-untitled = Untitled
reminder-mail-subject = Reminder: { $subject }
reminder-mail-body = Reminder of “{ $subject }”.
    Due: { $due } ({ $tz }).
    Reminded { $minutes } min before.
event_stream_required = The event stream is only served to clients that send Accept: text/event-stream
problem-approval_own_request = You cannot approve your own request
problem-approval_not_approver = Another person decides on this request
approval_already_decided = This request has already been decided
approval_no_approver = No approver found: the department has no head
approval_field_unsupported = Approval of this field is not supported (available: a deal's discount_pct)
approval_role_unknown = Role must be all, mine or to_me
approval_state_unknown = State must be pending, approved or rejected
