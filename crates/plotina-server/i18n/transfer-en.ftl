# Texts of the transfer pages and API messages (en).
