# Scheduled reports: field errors
report_schedule_kind = Choose one of the reports: funnel, dam, abc-xyz, velocity, forecast, managers, by-industry, overdue-children
report_schedule_frequency = Choose weekly or monthly
report_schedule_day = Day must be from 1 to { $max }
report_schedule_hour = Hour must be from 0 to 23
report_schedule_no_recipients = Choose at least one recipient
report_schedule_many_recipients = At most { $max } recipients
report_schedule_bad_recipient = User { $id } does not exist or is not active
report_schedule_bad_recipient_id = Recipients are a list of user ids
report_schedule_params_long = The parameters are longer than { $max } characters
report_schedule_bad_pipeline = There is no such pipeline
report_schedule_text = Must be text
report_schedule_integer = Must be a whole number
report_schedule_boolean = Must be true or false

# Scheduled reports: the mail
dashboard-schedule-mail-subject = { $report } for { $date }
dashboard-schedule-mail-body =
    Hello!

    The report "{ $report }" as of { $date } is attached as a spreadsheet ({ $rows } rows).
    It includes only the records you may see in Plotina.

    This mail is sent on a schedule; the schedule can be changed under Settings → Scheduled reports.

# The analytics dashboard (/reports)
dashboard-title = Analytics
dashboard-period = Period { $current }, compared with { $previous }
dashboard-kpi-won-amount = Won
dashboard-kpi-won-count = Deals won
dashboard-kpi-new-deals = New deals
dashboard-kpi-win-rate = Win rate
dashboard-kpi-weighted = Weighted pipeline
dashboard-kpi-weighted-note = { $count } open deals for { $amount }
dashboard-kpi-plan = Plan done
dashboard-kpi-plan-note = Plan { $plan }
dashboard-kpi-overdue = Overdue tasks
dashboard-kpi-no-next-step = Deals without a next step
dashboard-previous = Period before: { $value }
dashboard-now = Now
dashboard-chart-won = Won by month
dashboard-chart-won-caption = Won deals by closing month, the last twelve months; a bar opens its deals.
dashboard-chart-plan = Plan and actual
dashboard-chart-funnel = Funnel of the period
dashboard-chart-funnel-caption = Deals created in the period that reached each stage; a bar opens those deals.
dashboard-all-reports = All reports
dashboard-schedules = Scheduled reports
dashboard-compact-k = { $n }k
dashboard-compact-m = { $n }M

# Settings → Scheduled reports
dashboard-schedules-help = A report is computed for each recipient with their own permissions and e-mailed as a spreadsheet. The hour is in the time zone of whoever saved the schedule.
dashboard-schedule-report = Report
dashboard-schedule-params = Report parameters
dashboard-schedule-frequency = How often
dashboard-schedule-weekly-option = Weekly
dashboard-schedule-monthly-option = Monthly
dashboard-schedule-day = Day
dashboard-schedule-day-help = Weekly: 1 = Monday … 7 = Sunday. Monthly: day of the month (a shorter month uses its last day).
dashboard-schedule-hour = Hour
dashboard-schedule-recipients = Recipients
dashboard-schedule-enabled = On
dashboard-schedule-when = When
dashboard-schedule-next = Next mail
dashboard-schedule-last = Last sent
dashboard-schedule-new = New schedule
dashboard-schedule-edit = Edit
dashboard-schedule-cancel = Cancel
dashboard-schedule-confirm-delete = Delete this schedule?
dashboard-schedule-send = Send by e-mail on schedule
dashboard-schedule-weekly = Weekly on { $day } at { $hour }
dashboard-schedule-monthly = Monthly on day { $day } at { $hour }
dashboard-weekday-1 = Monday
dashboard-weekday-2 = Tuesday
dashboard-weekday-3 = Wednesday
dashboard-weekday-4 = Thursday
dashboard-weekday-5 = Friday
dashboard-weekday-6 = Saturday
dashboard-weekday-7 = Sunday
