# Texts of the reports pages and API messages (en).
