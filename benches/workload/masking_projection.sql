-- A masked extract of every customer: e-mail local part, card number, phone,
-- national id and name reduced to what a support agent may see.
SELECT customer_id,
       regexp_replace(email, '^(.)[^@]*@', '\1***@') AS email,
       '**** **** **** ' || right(card_number, 4) AS card_number,
       left(phone, 3) || repeat('*', length(phone) - 5) || right(phone, 2) AS phone,
       left(national_id, 2) || repeat('*', length(national_id) - 2) AS national_id,
       left(name, 1) || '. ' || upper(left(region, 1)) AS name_region,
       segment
FROM customers;
