"""The governance outputs the instruction of 15 May 2020 asks for, each read from a decisions file:
the comité local de cohésion territoriale's page (`comite_local`), the comité régional des
financeurs' list (`comite_regional`) and the measures of subsidiarity (`impact`).

Every figure they show is traceable to rows of the decisions file (`page.Trace`).
"""
