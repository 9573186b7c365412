# Texts of the automation pages and API messages (ru).
