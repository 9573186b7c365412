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

# Аналитика (/reports)
dashboard-title = Аналитика
dashboard-period = Период { $current }, для сравнения { $previous }
dashboard-kpi-won-amount = Выиграно
dashboard-kpi-won-count = Выиграно сделок
dashboard-kpi-new-deals = Новых сделок
dashboard-kpi-win-rate = Доля выигранных
dashboard-kpi-weighted = Взвешенная воронка
dashboard-kpi-weighted-note = { $count } открытых сделок на { $amount }
dashboard-kpi-plan = Выполнение плана
dashboard-kpi-plan-note = План { $plan }
dashboard-kpi-overdue = Просроченных задач
dashboard-kpi-no-next-step = Сделок без следующего шага
dashboard-previous = Период раньше: { $value }
dashboard-now = Сейчас
dashboard-chart-won = Выиграно по месяцам
dashboard-chart-won-caption = Выигранные сделки по месяцу закрытия за последние двенадцать месяцев; столбец открывает их список.
dashboard-chart-plan = План и факт
dashboard-chart-funnel = Воронка периода
dashboard-chart-funnel-caption = Сделки, созданные в периоде, дошедшие до каждого этапа; столбец открывает их список.
dashboard-all-reports = Все отчёты
dashboard-schedules = Отчёты по расписанию
dashboard-compact-k = { $n }к
dashboard-compact-m = { $n }М

# Настройки → Отчёты по расписанию
dashboard-schedules-help = Отчёт считается для каждого получателя с его правами и приходит письмом с таблицей. Час — в часовом поясе того, кто сохранил расписание.
dashboard-schedule-report = Отчёт
dashboard-schedule-params = Параметры отчёта
dashboard-schedule-frequency = Как часто
dashboard-schedule-weekly-option = Еженедельно
dashboard-schedule-monthly-option = Ежемесячно
dashboard-schedule-day = День
dashboard-schedule-day-help = Еженедельно: 1 — понедельник … 7 — воскресенье. Ежемесячно: число месяца (в коротком месяце — его последний день).
dashboard-schedule-hour = Час
dashboard-schedule-recipients = Получатели
dashboard-schedule-enabled = Включено
dashboard-schedule-when = Когда
dashboard-schedule-next = Следующее письмо
dashboard-schedule-last = Последняя отправка
dashboard-schedule-new = Новое расписание
dashboard-schedule-edit = Изменить
dashboard-schedule-cancel = Отмена
dashboard-schedule-confirm-delete = Удалить это расписание?
dashboard-schedule-send = Отправлять по почте по расписанию
dashboard-schedule-weekly = Еженедельно, { $day }, в { $hour }
dashboard-schedule-monthly = Ежемесячно, { $day }-го числа, в { $hour }
dashboard-weekday-1 = понедельник
dashboard-weekday-2 = вторник
dashboard-weekday-3 = среда
dashboard-weekday-4 = четверг
dashboard-weekday-5 = пятница
dashboard-weekday-6 = суббота
dashboard-weekday-7 = воскресенье
