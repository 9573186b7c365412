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
