# Texts of the automation pages and API messages (en).

## Automation rules: errors at save
automation_rule_malformed = The rule is malformed: { $detail }
automation_name_required = Give the rule a name (up to 255 characters)
automation_entity_invalid = A rule belongs to a company, contact, lead, deal or activity
automation_deal_only = Only deal rules can do this
automation_activity_only = This trigger is for activities only
automation_condition_invalid = The condition could not be read (position { $position }): check the fields and syntax
automation_actions_required = Add at least one action
automation_field_unknown = No such field
automation_date_field = A date or date-time field is needed
automation_text_required = Fill in the text
automation_kind_invalid = Unknown activity kind
automation_url_invalid = The address must start with http:// or https://
automation_delay_invalid = A delay is from 1 minute to a year
automation_pipeline_missing = The pipeline does not exist
automation_stage_missing = The stage does not exist in that pipeline
automation_user_missing = The user does not exist or is disabled
automation_department_missing = The department does not exist

## Run errors (run log)
automation_record_required = The action needs a record
automation_no_head = The department has no head
automation_no_users = The department has no active users
automation_email_invalid = Invalid recipient address

## Webhooks
webhook_events_invalid = Choose events: record.created, record.updated, deal.stage_changed
webhook_max_failures_invalid = The disabling threshold is 1 to 100 failures in a row

## Cards: rule runs on the timeline, time per stage
automation-tl-run = Rule “{ $rule }”: { $status }
automation-status-done = done
automation-status-skipped = condition not met
automation-status-failed = failed, will retry
automation-status-loop_stopped = stopped: loop
automation-status-depth_limit = stopped: chain too long
automation-status-delayed = continues later
automation-action-create_activity = task created
automation-action-create_child_deal = child deal created
automation-action-move_parent = parent deal moved
automation-action-move_children = child deals moved
automation-action-move_stage = deal moved
automation-action-set_field = field set
automation-action-assign_owner = owner assigned
automation-action-add_tag = tag added
automation-action-remove_tag = tag removed
automation-action-notebook_item = notebook item
automation-action-send_email = e-mail queued
automation-action-webhook = webhook call queued
automation-action-delay = pause
automation-dur-d = { $n } d
automation-dur-h = { $n } h
automation-dur-m = { $n } min
