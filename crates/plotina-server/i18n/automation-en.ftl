# Texts of the automation pages and API messages (en).
