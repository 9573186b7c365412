# Texts of the notebook pages and API messages (en).
