# Отчёты по расписанию: ошибки полей
report_schedule_kind = Выберите один из отчётов: funnel, dam, abc-xyz, velocity, forecast, managers, by-industry, overdue-children
report_schedule_frequency = Выберите «еженедельно» или «ежемесячно»
report_schedule_day = День — от 1 до { $max }
report_schedule_hour = Час — от 0 до 23
report_schedule_no_recipients = Выберите хотя бы одного получателя
report_schedule_many_recipients = Не больше { $max } получателей
report_schedule_bad_recipient = Пользователя { $id } нет или он отключён
report_schedule_bad_recipient_id = Получатели — список номеров пользователей
report_schedule_params_long = Параметры длиннее { $max } символов
report_schedule_bad_pipeline = Такой воронки нет
report_schedule_text = Нужен текст
report_schedule_integer = Нужно целое число
report_schedule_boolean = Нужно true или false

# Отчёты по расписанию: письмо
dashboard-schedule-mail-subject = { $report } на { $date }
dashboard-schedule-mail-body =
    Здравствуйте!

    Отчёт «{ $report }» на { $date } — во вложении, таблицей ({ $rows } строк).
    В нём только записи, которые вам видны в «Плотине».

    Письмо отправлено по расписанию; изменить его можно в разделе «Настройки → Отчёты по расписанию».
