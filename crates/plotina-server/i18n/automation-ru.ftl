# Texts of the automation pages and API messages (ru).

## Правила автоматизации: ошибки при сохранении
automation_rule_malformed = Правило описано неверно: { $detail }
automation_name_required = Укажите название правила (до 255 символов)
automation_entity_invalid = Правило может относиться к компании, контакту, лиду, сделке или активности
automation_deal_only = Это доступно только для правил сделок
automation_activity_only = Этот триггер доступен только для активностей
automation_condition_invalid = Условие не разобрано (позиция { $position }): проверьте поля и синтаксис
automation_actions_required = Добавьте хотя бы одно действие
automation_field_unknown = Такого поля нет
automation_date_field = Нужно поле с датой или датой и временем
automation_text_required = Заполните текст
automation_kind_invalid = Неизвестный вид активности
automation_url_invalid = Адрес должен начинаться с http:// или https://
automation_delay_invalid = Задержка — от 1 минуты до года
automation_pipeline_missing = Воронка не найдена
automation_stage_missing = Этап не найден в этой воронке
automation_user_missing = Пользователь не найден или отключён
automation_department_missing = Отдел не найден

## Ошибки выполнения (журнал запусков)
automation_record_required = Действию нужна запись
automation_no_head = У отдела не назначен руководитель
automation_no_users = В отделе нет активных сотрудников
automation_email_invalid = Неверный адрес получателя

## Вебхуки
webhook_events_invalid = Укажите события: record.created, record.updated, deal.stage_changed
webhook_max_failures_invalid = Порог отключения — от 1 до 100 неудач подряд

## Карточки: журнал правил на ленте, время по этапам
automation-tl-run = Правило «{ $rule }»: { $status }
automation-status-done = выполнено
automation-status-skipped = условие не выполнено
automation-status-failed = ошибка, будет повтор
automation-status-loop_stopped = остановлено: зацикливание
automation-status-depth_limit = остановлено: слишком длинная цепочка
automation-status-delayed = продолжится позже
automation-action-create_activity = создана задача
automation-action-create_child_deal = создана дочерняя сделка
automation-action-move_parent = родительская сделка переведена
automation-action-move_children = дочерние сделки переведены
automation-action-move_stage = сделка переведена
automation-action-set_field = поле изменено
automation-action-assign_owner = назначен ответственный
automation-action-add_tag = добавлен тег
automation-action-remove_tag = снят тег
automation-action-notebook_item = запись в блокнот
automation-action-send_email = письмо в очереди
automation-action-webhook = вызов вебхука в очереди
automation-action-delay = пауза
automation-dur-d = { $n } д
automation-dur-h = { $n } ч
automation-dur-m = { $n } мин
