"""What Braket bills and how much: the price list, a job's usage from AWS's records, its bill, its
budgets, and a day of quantum tasks priced.

Below the executor, the cost reports, the cost guard and AmazonBraketlib, which all measure and price
the same way.
"""
