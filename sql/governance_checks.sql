-- What each identity sees obeys the bank's rules. Run it as each role the
-- bank hands out, in CI, to catch a policy edit that opens a hole:
--
--   finsight --dir demo_data --user adam  run sql/governance_checks.sql   # analyst
--   finsight --dir demo_data --user maria run sql/governance_checks.sql   # marketing
--   finsight --dir demo_data --user rita --role risk run sql/governance_checks.sql
--   finsight --dir demo_data run sql/governance_checks.sql                # owner
--
-- The bank's rules are written here by role name, independently of the
-- policy file, so a policy edit that breaks one (a role given raw emails, a
-- row filter dropped, a consent purpose relabelled) fails this script.

-- Who is asking, and what the policy says they get.
SELECT current_user AS user_name, current_role() AS role, current_purpose() AS purpose,
       current_user_attribute('region') AS region;

SELECT class, treatment FROM governance.masks
WHERE role = current_role() ORDER BY class;

-- Rule 1: only the privacy officer (and the data owner) see identifiers in
-- the clear; every mask of these classes hides characters with '*'.
ASSERT NOT EXISTS (
  SELECT 1 FROM customers
  WHERE current_role() NOT IN ('owner', 'privacy_officer')
    AND (email NOT LIKE '%*%' OR phone NOT LIKE '%*%' OR card_number NOT LIKE '%*%'
         OR name NOT LIKE '%*%')
), 'identifiers are masked for every role but the privacy officer';

-- Rule 2: income is seen as a number by risk and the privacy officer only;
-- analysts get 10,000-wide bands, others nothing.
ASSERT NOT EXISTS (
  SELECT 1 FROM customers
  WHERE current_role() NOT IN ('owner', 'privacy_officer', 'risk')
    AND income IS NOT NULL AND CAST(income AS VARCHAR) NOT LIKE '[%'
), 'income is banded or hidden for this role';

-- Rule 3: an analyst sees the customers of their region only, and only those
-- customers' transactions.
ASSERT NOT EXISTS (
  SELECT 1 FROM customers
  WHERE current_role() = 'analyst' AND region IS DISTINCT FROM current_user_attribute('region')
), 'an analyst sees only their region';

ASSERT NOT EXISTS (
  SELECT 1 FROM transactions
  WHERE current_role() IN ('analyst', 'marketing')
    AND customer_id NOT IN (SELECT customer_id FROM customers)
), 'transactions only of customers the role may see';

-- Rule 4: marketing and analytics need the customer's active consent.
ASSERT NOT EXISTS (
  SELECT 1 FROM customers c
  WHERE current_purpose() IN ('marketing', 'analytics')
    AND NOT EXISTS (
      SELECT 1 FROM consents k
      WHERE k.customer_id = c.customer_id AND k.purpose = current_purpose()
        AND k.granted_at <= now() AND (k.withdrawn_at IS NULL OR k.withdrawn_at > now()))
), 'only customers who consented to the purpose';

-- Rule 5: nothing past its retention period is visible.
ASSERT NOT EXISTS (
  SELECT 1 FROM customers WHERE closed_date < now() - INTERVAL '10 years'
), 'customers closed more than 10 years ago are hidden';

-- What this role sees, summarised.
SELECT count(*) AS customers,
       count(DISTINCT region) AS regions,
       count(*) FILTER (WHERE email LIKE '%*%') AS masked_emails
FROM customers;
